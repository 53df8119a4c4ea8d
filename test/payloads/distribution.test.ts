import { readFileSync } from 'node:fs';
import { failure, SAMPLE_DIGEST } from '../support/payload-samples.js';
import { describe, expect, it } from '@jest/globals';
import { parseDistribution } from '../../src/registry/payloads/distribution.js';

const sampleEvent = JSON.parse(readFileSync(new URL('../../events/push-distribution.json', import.meta.url), 'utf8')) as {
  headers: Record<string, string>;
  body: string;
};
const sample = JSON.parse(sampleEvent.body) as { events: Array<Record<string, unknown>> };
const DIGEST = SAMPLE_DIGEST;
// The sample's pushed tag is whatever the demo needs (`npm start` tracks KFM_IMAGE's tag): read, not hard-coded.
const SAMPLE_TAG = (sample.events[0]?.['target'] as { tag: string }).tag;
// The host the sample's registry was pushed to (`request.host`), likewise read.
const SAMPLE_HOST = (sample.events[0]?.['request'] as { host: string }).host;
const OTHER = `sha256:${'ab'.repeat(32)}`;
const REPO = 'kubeflow-images-public/metadata';


const push = (target: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  action: 'push',
  timestamp: '2026-01-01T00:00:00Z',
  target: { repository: REPO, ...target },
  ...extra,
});

describe('parseDistribution', () => {
  it('normalises the sample batch: one manifest push, the pull and the blob push ignored', () => {
    expect(sampleEvent.headers['content-type']).toBe('application/vnd.docker.distribution.events.v1+json');
    expect(SAMPLE_TAG).toMatch(/^v0\.1\.\d+$/);
    expect(parseDistribution(sample)).toStrictEqual({
      events: [
        {
          provider: 'distribution',
          registry: SAMPLE_HOST,
          repository: REPO,
          tag: SAMPLE_TAG,
          digest: DIGEST,
          pushedAt: '2026-01-01T12:00:00.123Z',
        },
      ],
      ignored: ['events[1]: pull', 'events[2]: blob push (application/octet-stream)'],
    });
  });

  it('takes the registry from request.host, normalised (case, Docker Hub aliases), never from target.url', () => {
    const at = (host: unknown, url = 'https://elsewhere.example/v2/x/manifests/v1') =>
      parseDistribution({ events: [push({ tag: 'v1', url }, { request: { host } })] }).events[0]?.registry;
    expect(at('Registry.Example:5000')).toBe('registry.example:5000');
    expect(at('127.0.0.1:5000')).toBe('127.0.0.1:5000');
    expect(at('[::1]:5000')).toBe('[::1]:5000');
    expect(at('registry-1.docker.io')).toBe('docker.io');
    // No Host (an HTTP/1.0 client), or no request block: the payload names no registry.
    expect(at('')).toBeUndefined();
    expect(parseDistribution({ events: [push({ tag: 'v1' }, { request: {} })] }).events[0]).not.toHaveProperty('registry');
    expect(parseDistribution({ events: [push({ tag: 'v1' })] }).events[0]).not.toHaveProperty('registry');
  });

  it('ignores a push whose request.host is no host name (the batch goes on; the text is not echoed)', () => {
    const mediaType = 'application/vnd.oci.image.manifest.v1+json';
    for (const host of ['evil host', 'a/b', 'x'.repeat(300), 'registry.example:5000/../', '\u0000']) {
      const body = { events: [push({ mediaType, tag: 'v1' }, { request: { host } }), push({ mediaType, tag: 'v2' }, { request: { host: 'registry.example' } })] };
      expect(parseDistribution(body)).toStrictEqual({
        events: [{ provider: 'distribution', registry: 'registry.example', repository: REPO, tag: 'v2', pushedAt: '2026-01-01T00:00:00.000Z' }],
        ignored: ['events[0]: request.host is not a registry host name'],
      });
    }
  });

  it('reads a v2+json style batch (same body) with every manifest type', () => {
    const types = [
      'application/vnd.oci.image.manifest.v1+json',
      'application/vnd.oci.image.index.v1+json',
      'application/vnd.docker.distribution.manifest.v2+json',
      'application/vnd.docker.distribution.manifest.list.v2+json; charset=utf-8',
    ];
    const body = { events: types.map((mediaType, i) => push({ mediaType, tag: `v${i}`, digest: OTHER })) };
    expect(parseDistribution(body).events.map((e) => e.tag)).toStrictEqual(['v0', 'v1', 'v2', 'v3']);
  });

  it('ignores blob pushes, config/layer types, other manifest types, deletes and mounts', () => {
    const body = {
      events: [
        push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: OTHER }),
        push({ mediaType: 'application/vnd.docker.container.image.v1+json', digest: OTHER }),
        push({ mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws', tag: 'old', digest: OTHER }),
        push({ digest: OTHER }),
        { action: 'delete', target: { repository: REPO, digest: OTHER } },
        { action: 'mount', target: { repository: REPO, digest: OTHER } },
        { action: 'pull' },
      ],
    };
    expect(parseDistribution(body)).toStrictEqual({
      events: [],
      ignored: [
        'events[0]: blob push (application/vnd.oci.image.layer.v1.tar+gzip)',
        'events[1]: blob push (application/vnd.docker.container.image.v1+json)',
        'events[2]: unsupported manifest type (application/vnd.docker.distribution.manifest.v1+prettyjws)',
        'events[3]: push without media type or tag',
        'events[4]: delete',
        'events[5]: mount',
        'events[6]: pull',
      ],
    });
  });

  it('treats a tagged push without mediaType as a manifest push', () => {
    expect(parseDistribution({ events: [push({ tag: 'v1' }, { timestamp: undefined })] })).toStrictEqual({
      events: [{ provider: 'distribution', repository: REPO, tag: 'v1' }],
      ignored: [],
    });
  });

  it('returns a push by digest without a tag (empty tag read the same)', () => {
    const mediaType = 'application/vnd.oci.image.manifest.v1+json';
    const body = { events: [push({ mediaType, digest: OTHER }), push({ mediaType, digest: OTHER, tag: '' })] };
    const expected = { provider: 'distribution', repository: REPO, digest: OTHER, pushedAt: '2026-01-01T00:00:00.000Z' };
    expect(parseDistribution(body)).toStrictEqual({ events: [expected, expected], ignored: [] });
  });

  it('normalises timestamps with offsets and nanoseconds to UTC milliseconds', () => {
    const body = { events: [push({ tag: 'v1' }, { timestamp: '2026-01-01T01:00:00.987654321+01:00' })] };
    expect(parseDistribution(body).events[0]?.pushedAt).toBe('2026-01-01T00:00:00.987Z');
  });

  it('returns nothing for an empty batch', () => {
    expect(parseDistribution({ events: [] })).toStrictEqual({ events: [], ignored: [] });
  });

  it.each([
    ['a bare event without the envelope', push({ tag: 'v1' }), 'events'],
    ['events not a list', { events: {} }, 'events'],
    ['an event that is not an object', { events: [null] }, 'events[0]'],
    ['a missing action', { events: [{ target: {} }] }, 'events[0].action'],
    ['a push without target', { events: [{ action: 'push' }] }, 'events[0].target'],
    ['a numeric repository', { events: [push({ repository: 7, tag: 'v1' })] }, 'events[0].target.repository'],
    ['a repository over 255 chars', { events: [push({ repository: 'a'.repeat(256), tag: 'v1' })] }, 'events[0].target.repository'],
    ['a bad tag', { events: [{ action: 'pull' }, push({ tag: 'v1 beta' })] }, 'events[1].target.tag'],
    ['a tag over 128 chars', { events: [push({ tag: 'v'.repeat(129) })] }, 'events[0].target.tag'],
    ['a bad digest', { events: [push({ tag: 'v1', digest: 'sha256:abc' })] }, 'events[0].target.digest'],
    ['a bad timestamp', { events: [push({ tag: 'v1' }, { timestamp: 'yesterday' })] }, 'events[0].timestamp'],
    ['a request that is not an object', { events: [push({ tag: 'v1' }, { request: 'registry.example' })] }, 'events[0].request'],
    ['a numeric request.host', { events: [push({ tag: 'v1' }, { request: { host: 5000 } })] }, 'events[0].request.host'],
    ['a repository outside the grammar (//)', { events: [push({ repository: 'kubeflow//metadata', tag: 'v1' })] }, 'events[0].target.repository'],
    ['an upper-case repository', { events: [push({ repository: 'Kubeflow/Metadata', tag: 'v1' })] }, 'events[0].target.repository'],
    ['a repository ending in a separator', { events: [{ action: 'pull' }, push({ repository: 'kubeflow/metadata-', tag: 'v1' })] }, 'events[1].target.repository'],
    [
      'a manifest push with neither tag nor digest',
      { events: [push({ mediaType: 'application/vnd.oci.image.manifest.v1+json' })] },
      'events[0].target.digest',
    ],
  ])('rejects %s with a 400 naming the field', (_, body, field) => {
    const error = failure(() => parseDistribution(body));
    expect(error.statusCode).toBe(400);
    expect(error.field).toBe(field);
    expect(error.message).toContain(field);
  });

  it.each([null, [], 3, 'events', true])('rejects a body that is not an object (%p)', (body) => {
    expect(failure(() => parseDistribution(body))).toMatchObject({ statusCode: 400, field: 'body' });
  });

  it('ignores a __proto__ key instead of being confused by it', () => {
    const body = JSON.parse(`{"__proto__":{"events":[]},"events":${JSON.stringify(sample.events)}}`) as unknown;
    expect(parseDistribution(body).events).toHaveLength(1);
    expect(failure(() => parseDistribution(JSON.parse('{"__proto__":{"events":[]}}')))).toMatchObject({ field: 'events' });
  });
});
