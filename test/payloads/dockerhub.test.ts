import { readFileSync } from 'node:fs';
import { failure } from '../support/payload-samples.js';
import { describe, expect, it } from '@jest/globals';
import { parseDockerhub } from '../../src/registry/payloads/dockerhub.js';

const sampleEvent = JSON.parse(readFileSync(new URL('../../events/push-dockerhub.json', import.meta.url), 'utf8')) as {
  queryStringParameters: Record<string, string>;
  headers: Record<string, string>;
  body: string;
};
type Body = { push_data: Record<string, unknown>; repository: Record<string, unknown> };
/** The sample carries its own route's URL token (DESIGN §5), not the push secret nor the other registry's token. */
const LOCAL = JSON.parse(readFileSync(new URL('../../events/local-credentials.json', import.meta.url), 'utf8')) as Record<string, string>;
const sample = JSON.parse(sampleEvent.body) as Body;
const with_ = (push: Record<string, unknown>, repo: Record<string, unknown> = {}): Body => ({
  ...sample,
  push_data: { ...sample.push_data, ...push },
  repository: { ...sample.repository, ...repo },
});


describe('parseDockerhub', () => {
  it('normalises the sample (no digest; registry docker.io; unix seconds to ISO)', () => {
    expect(parseDockerhub(sample)).toStrictEqual({
      events: [
        {
          provider: 'dockerhub',
          registry: 'docker.io',
          repository: 'kubeflowimages/metadata',
          tag: 'v0.1.9',
          pushedAt: '2026-01-01T12:00:00.000Z',
        },
      ],
      ignored: [],
    });
  });

  it('sample authenticates with ?token= (Docker Hub cannot send headers)', () => {
    expect(sampleEvent.queryStringParameters.token).toBe(LOCAL.KFM_DOCKERHUB_TOKEN);
    expect(Buffer.byteLength(LOCAL.KFM_DOCKERHUB_TOKEN!, 'utf8')).toBeGreaterThanOrEqual(32);
    expect([LOCAL.KFM_WEBHOOK_SECRET, LOCAL.KFM_QUAY_TOKEN]).not.toContain(sampleEvent.queryStringParameters.token);
    expect(sampleEvent.headers).not.toHaveProperty('authorization');
  });

  it('leaves an official image name as given and accepts a fractional pushed_at', () => {
    expect(parseDockerhub(with_({ pushed_at: 1767268800.4 }, { repo_name: 'ubuntu' })).events).toStrictEqual([
      { provider: 'dockerhub', registry: 'docker.io', repository: 'ubuntu', tag: 'v0.1.9', pushedAt: '2026-01-01T12:00:00.400Z' },
    ]);
  });

  it('omits pushedAt when the payload has no time', () => {
    const { pushed_at: _, ...push } = sample.push_data;
    expect(parseDockerhub({ ...sample, push_data: push }).events[0]).not.toHaveProperty('pushedAt');
  });

  it.each([
    ['a missing tag', with_({ tag: undefined }), 'push_data.tag'],
    ['an empty tag', with_({ tag: '' }), 'push_data.tag'],
    ['a numeric tag', with_({ tag: 1 }), 'push_data.tag'],
    ['a string pushed_at', with_({ pushed_at: '1767268800' }), 'push_data.pushed_at'],
    ['a negative pushed_at', with_({ pushed_at: -1 }), 'push_data.pushed_at'],
    ['a pushed_at past year 9999', with_({ pushed_at: 1e15 }), 'push_data.pushed_at'],
    ['a missing repo_name', with_({}, { repo_name: undefined }), 'repository.repo_name'],
    ['a repo_name over 255 chars', with_({}, { repo_name: `a/${'b'.repeat(254)}` }), 'repository.repo_name'],
    ['a repo_name with spaces', with_({}, { repo_name: 'acme/meta data' }), 'repository.repo_name'],
    ['no push_data', { repository: sample.repository }, 'push_data'],
  ])('rejects %s with a 400 naming the field', (_, body, field) => {
    const error = failure(() => parseDockerhub(body));
    expect(error.statusCode).toBe(400);
    expect(error.field).toBe(field);
  });

  it.each([null, [sample], 'x'])('rejects a body that is not an object (%p)', (body) => {
    expect(failure(() => parseDockerhub(body))).toMatchObject({ statusCode: 400, field: 'body' });
  });
});
