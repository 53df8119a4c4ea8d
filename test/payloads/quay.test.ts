import { readFileSync } from 'node:fs';
import { failure } from '../support/payload-samples.js';
import { describe, expect, it } from '@jest/globals';
import { parseQuay } from '../../src/registry/payloads/quay.js';

const sampleEvent = JSON.parse(readFileSync(new URL('../../events/push-quay.json', import.meta.url), 'utf8')) as {
  queryStringParameters: Record<string, string>;
  body: string;
};
/** The sample carries its own route's URL token (DESIGN §5), not the push secret nor the other registry's token. */
const LOCAL = JSON.parse(readFileSync(new URL('../../events/local-credentials.json', import.meta.url), 'utf8')) as Record<string, string>;
const sample = JSON.parse(sampleEvent.body) as Record<string, unknown>;
const REPO = 'kubeflow-images-public/metadata';
const event = (tag: string, registry: string | null = 'quay.io') => ({
  provider: 'quay',
  ...(registry !== null && { registry }),
  repository: REPO,
  tag,
});


describe('parseQuay', () => {
  it('normalises the sample (no digest, no time; registry from docker_url)', () => {
    expect(sampleEvent.queryStringParameters.token).toBe(LOCAL.KFM_QUAY_TOKEN);
    expect(Buffer.byteLength(LOCAL.KFM_QUAY_TOKEN!, 'utf8')).toBeGreaterThanOrEqual(32);
    expect([LOCAL.KFM_WEBHOOK_SECRET, LOCAL.KFM_DOCKERHUB_TOKEN]).not.toContain(sampleEvent.queryStringParameters.token);
    expect(parseQuay(sample)).toStrictEqual({ events: [event('v0.1.9')], ignored: [] });
  });

  it('returns one event per tag of the list form, duplicates once', () => {
    expect(parseQuay({ ...sample, updated_tags: ['v1', 'latest', 'v1'] }).events).toStrictEqual([event('v1'), event('latest')]);
  });

  it('reads the older object form keyed by tag', () => {
    const body = { ...sample, updated_tags: { v1: 'sha256-ignored', latest: null } };
    expect(parseQuay(body).events).toStrictEqual([event('v1'), event('latest')]);
  });

  it('keeps a tag spelt __proto__ in the object form as a plain tag', () => {
    const body = JSON.parse(`{"repository":"${REPO}","updated_tags":{"__proto__":1,"v2":2}}`) as unknown;
    expect(parseQuay(body).events).toStrictEqual([event('__proto__', null), event('v2', null)]);
  });

  it('uses the host of a self-hosted docker_url, and none without docker_url', () => {
    expect(parseQuay({ ...sample, docker_url: 'Quay.Corp.example:8443/kubeflow-images-public/metadata' }).events[0]?.registry).toBe(
      'quay.corp.example:8443',
    );
    const { docker_url: _, ...rest } = sample;
    expect(parseQuay(rest).events).toStrictEqual([event('v0.1.9', null)]);
  });

  it('ignores a push with no updated tags (either form)', () => {
    const ignored = { events: [], ignored: ['quay: no updated tags'] };
    expect(parseQuay({ ...sample, updated_tags: [] })).toStrictEqual(ignored);
    expect(parseQuay({ ...sample, updated_tags: {} })).toStrictEqual(ignored);
  });

  it.each([
    ['a missing repository', { updated_tags: ['v1'] }, 'repository'],
    ['a repository object', { ...sample, repository: { name: 'x' } }, 'repository'],
    ['missing updated_tags', { repository: REPO }, 'updated_tags'],
    ['updated_tags a string', { ...sample, updated_tags: 'v1' }, 'updated_tags'],
    ['a bad tag in the list', { ...sample, updated_tags: ['v1', 'bad tag'] }, 'updated_tags[1]'],
    ['a non-string tag', { ...sample, updated_tags: [7] }, 'updated_tags[0]'],
    ['a bad tag key', { ...sample, updated_tags: { '.hidden': 1 } }, 'updated_tags[0]'],
    ['a docker_url without a host', { ...sample, docker_url: '/kubeflow/metadata' }, 'docker_url'],
  ])('rejects %s with a 400 naming the field', (_, body, field) => {
    const error = failure(() => parseQuay(body));
    expect(error.statusCode).toBe(400);
    expect(error.field).toBe(field);
  });

  it.each([null, ['v1'], false])('rejects a body that is not an object (%p)', (body) => {
    expect(failure(() => parseQuay(body))).toMatchObject({ statusCode: 400, field: 'body' });
  });
});
