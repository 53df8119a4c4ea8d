import { failure, SAMPLE_DIGEST, sampleBody } from '../support/payload-samples.js';
import { describe, expect, it } from '@jest/globals';
import { parseAcr } from '../../src/registry/payloads/acr.js';

type Body = Record<string, unknown> & { target: Record<string, unknown>; request: Record<string, unknown> };
const sample = sampleBody<Body>('push-acr.json');
const DIGEST = SAMPLE_DIGEST;
const REPO = 'kubeflow-images-public/metadata';
const withTarget = (target: Record<string, unknown>, top: Record<string, unknown> = {}): Body => ({
  ...sample,
  ...top,
  target: { ...sample.target, ...target },
});


describe('parseAcr', () => {
  it('normalises the sample (registry from request.host)', () => {
    expect(parseAcr(sample)).toStrictEqual({
      events: [
        {
          provider: 'acr',
          registry: 'kubeflow.azurecr.io',
          repository: REPO,
          tag: 'v0.1.9',
          digest: DIGEST,
          pushedAt: '2026-01-01T12:00:00.500Z',
        },
      ],
      ignored: [],
    });
  });

  it('reads an empty tag as a digest-only push', () => {
    expect(parseAcr(withTarget({ tag: '' })).events).toStrictEqual([
      { provider: 'acr', registry: 'kubeflow.azurecr.io', repository: REPO, digest: DIGEST, pushedAt: '2026-01-01T12:00:00.500Z' },
    ]);
  });

  it('leaves registry undefined without request.host', () => {
    const { request: _, ...rest } = sample;
    expect(parseAcr(rest).events[0]).not.toHaveProperty('registry');
  });

  it.each(['delete', 'chart_push', 'chart_delete', 'quarantine'])('ignores action %s unvalidated', (action) => {
    expect(parseAcr({ action, target: null })).toStrictEqual({ events: [], ignored: [`acr: action ${action}`] });
  });

  it.each([
    ['a missing action', { target: sample.target }, 'action'],
    ['no target', { action: 'push' }, 'target'],
    ['a numeric tag', withTarget({ tag: 1 }), 'target.tag'],
    ['a bad digest', withTarget({ digest: 'sha256:' + 'G'.repeat(64) }), 'target.digest'],
    ['an empty tag and no digest', withTarget({ tag: '', digest: undefined }), 'target.digest'],
    ['a repository over 255 chars', withTarget({ repository: 'r'.repeat(256) }), 'target.repository'],
    ['a bad request.host', { ...sample, request: { host: 'evil host/' } }, 'request.host'],
    ['a bad timestamp', { ...sample, timestamp: '2026-13-45T99:00:00Z' }, 'timestamp'],
  ])('rejects %s with a 400 naming the field', (_, body, field) => {
    const error = failure(() => parseAcr(body));
    expect(error.statusCode).toBe(400);
    expect(error.field).toBe(field);
  });

  it.each([null, [], 1.5])('rejects a body that is not an object (%p)', (body) => {
    expect(failure(() => parseAcr(body))).toMatchObject({ statusCode: 400, field: 'body' });
  });
});
