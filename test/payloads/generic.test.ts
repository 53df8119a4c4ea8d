import { failure, SAMPLE_DIGEST, sampleBody } from '../support/payload-samples.js';
import { describe, expect, it } from '@jest/globals';
import { parseGeneric } from '../../src/registry/payloads/generic.js';

const sample = sampleBody<Record<string, unknown>>('push-generic.json');
const DIGEST = SAMPLE_DIGEST;
const REPO = 'kubeflow-images-public/metadata';


describe('parseGeneric', () => {
  it('normalises the sample', () => {
    expect(parseGeneric(sample)).toStrictEqual({
      events: [
        { provider: 'generic', registry: 'gcr.io', repository: REPO, tag: 'v0.1.9', digest: DIGEST, pushedAt: '2026-01-01T12:00:00.000Z' },
      ],
      ignored: [],
    });
  });

  it('accepts the minimal forms: repository with a tag, or with a digest', () => {
    expect(parseGeneric({ repository: REPO, tag: 'v1' })).toStrictEqual({
      events: [{ provider: 'generic', repository: REPO, tag: 'v1' }],
      ignored: [],
    });
    expect(parseGeneric({ repository: REPO, digest: DIGEST }).events).toStrictEqual([{ provider: 'generic', repository: REPO, digest: DIGEST }]);
  });

  it('normalises the registry host', () => {
    expect(parseGeneric({ ...sample, registry: 'https://Index.Docker.io/' }).events[0]?.registry).toBe('docker.io');
    expect(parseGeneric({ ...sample, registry: 'localhost:5000' }).events[0]?.registry).toBe('localhost:5000');
  });

  it.each([
    ['neither tag nor digest', { repository: REPO }, 'tag'],
    ['a missing repository', { tag: 'v1' }, 'repository'],
    ['an empty tag', { repository: REPO, tag: '' }, 'tag'],
    ['a numeric tag (no coercion)', { repository: REPO, tag: 1 }, 'tag'],
    ['a null digest', { repository: REPO, tag: 'v1', digest: null }, 'digest'],
    ['an upper-case digest', { repository: REPO, digest: DIGEST.toUpperCase() }, 'digest'],
    ['unix seconds for pushedAt', { repository: REPO, tag: 'v1', pushedAt: 1767268800 }, 'pushedAt'],
    ['a pushedAt without a zone', { repository: REPO, tag: 'v1', pushedAt: '2026-01-01T00:00:00' }, 'pushedAt'],
    ['a registry with a path', { repository: REPO, tag: 'v1', registry: 'gcr.io/kubeflow' }, 'registry'],
    ['an unknown (misspelt) key', { repository: REPO, tag: 'v1', registy: 'gcr.io' }, 'registy'],
  ])('rejects %s with a 400 naming the field', (_, body, field) => {
    const error = failure(() => parseGeneric(body));
    expect(error.statusCode).toBe(400);
    expect(error.field).toBe(field);
  });

  it.each([null, [], 'kubeflow/metadata:v1'])('rejects a body that is not an object (%p)', (body) => {
    expect(failure(() => parseGeneric(body))).toMatchObject({ statusCode: 400, field: 'body' });
  });
});
