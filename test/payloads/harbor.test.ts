import { failure, SAMPLE_DIGEST, sampleBody } from '../support/payload-samples.js';
import { describe, expect, it } from '@jest/globals';
import { parseHarbor } from '../../src/registry/payloads/harbor.js';

type Body = Record<string, unknown> & { event_data: { resources: unknown[]; repository: Record<string, unknown> } };
const sample = sampleBody<Body>('push-harbor.json');
const DIGEST = SAMPLE_DIGEST;
const OTHER = `sha256:${'c'.repeat(64)}`;
const REPO = 'kubeflow-images-public/metadata';
const withResources = (resources: unknown[], top: Record<string, unknown> = {}): Body => ({
  ...sample,
  ...top,
  event_data: { ...sample.event_data, resources },
});


describe('parseHarbor', () => {
  it('normalises the sample', () => {
    expect(parseHarbor(sample)).toStrictEqual({
      events: [
        {
          provider: 'harbor',
          registry: 'harbor.example.com',
          repository: REPO,
          tag: 'v0.1.9',
          digest: DIGEST,
          pushedAt: '2026-01-01T12:00:00.000Z',
        },
      ],
      ignored: [],
    });
  });

  it('returns one event per resource (multi-tag push, digest-only resource, no resource_url)', () => {
    const body = withResources([
      { digest: OTHER, tag: 'v2', resource_url: 'https://Harbor.Example.com:8443/kubeflow-images-public/metadata:v2' },
      { digest: OTHER, tag: 'latest', resource_url: 'harbor.example.com:8443/kubeflow-images-public/metadata:latest' },
      { digest: OTHER, tag: '' },
      { digest: OTHER },
    ]);
    const base = { provider: 'harbor', repository: REPO, digest: OTHER, pushedAt: '2026-01-01T12:00:00.000Z' };
    expect(parseHarbor(body)).toStrictEqual({
      events: [
        { ...base, registry: 'harbor.example.com:8443', tag: 'v2' },
        { ...base, registry: 'harbor.example.com:8443', tag: 'latest' },
        base,
        base,
      ],
      ignored: [],
    });
  });

  it.each(['PULL_ARTIFACT', 'DELETE_ARTIFACT', 'SCANNING_COMPLETED', 'QUOTA_EXCEED'])('ignores type %s unvalidated', (type) => {
    expect(parseHarbor({ type, event_data: 42 })).toStrictEqual({ events: [], ignored: [`harbor: type ${type}`] });
  });

  it('ignores a push with no resources', () => {
    expect(parseHarbor(withResources([]))).toStrictEqual({ events: [], ignored: ['harbor: no resources'] });
  });

  it.each([
    ['a missing type', { event_data: sample.event_data }, 'type'],
    ['a numeric type', { ...sample, type: 1 }, 'type'],
    ['no event_data', { type: 'PUSH_ARTIFACT' }, 'event_data'],
    ['resources not a list', withResources({} as unknown as unknown[]), 'event_data.resources'],
    ['a bad tag', withResources([{ digest: OTHER, tag: 'v1/x' }]), 'event_data.resources[0].tag'],
    ['a bad digest', withResources([{ digest: 'md5:00' }]), 'event_data.resources[0].digest'],
    ['neither tag nor digest', withResources([{ digest: OTHER }, { resource_url: 'h.example/a:b' }]), 'event_data.resources[1].digest'],
    ['a resource_url without a host', withResources([{ digest: OTHER, resource_url: 'not a host/x' }]), 'event_data.resources[0].resource_url'],
    ['a bad occur_at', withResources([{ digest: OTHER }], { occur_at: 'now' }), 'occur_at'],
    [
      'a missing repo_full_name',
      { ...sample, event_data: { ...sample.event_data, repository: { name: 'metadata' } } },
      'event_data.repository.repo_full_name',
    ],
  ])('rejects %s with a 400 naming the field', (_, body, field) => {
    const error = failure(() => parseHarbor(body));
    expect(error.statusCode).toBe(400);
    expect(error.field).toBe(field);
  });

  it.each([null, [], 12])('rejects a body that is not an object (%p)', (body) => {
    expect(failure(() => parseHarbor(body))).toMatchObject({ statusCode: 400, field: 'body' });
  });
});
