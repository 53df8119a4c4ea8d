import { failure, SAMPLE_DIGEST, sampleBody } from '../support/payload-samples.js';
import { describe, expect, it } from '@jest/globals';
import { parseEcrEvent } from '../../src/registry/payloads/ecr.js';

type EcrEvent = Record<string, unknown> & { detail: Record<string, unknown> };
const sample = sampleBody<EcrEvent>('push-ecr.json');
const DIGEST = SAMPLE_DIGEST;
const with_ = (detail: Record<string, unknown>, top: Record<string, unknown> = {}): EcrEvent => ({
  ...sample,
  ...top,
  detail: { ...sample.detail, ...detail },
});


describe('parseEcrEvent', () => {
  it('normalises the sample EventBridge event', () => {
    expect(parseEcrEvent(sample)).toStrictEqual({
      events: [
        {
          provider: 'ecr',
          registry: '123456789012.dkr.ecr.eu-west-1.amazonaws.com',
          repository: 'kubeflow/metadata',
          tag: 'v0.1.9',
          digest: DIGEST,
          pushedAt: '2026-01-01T12:00:00.000Z',
        },
      ],
      ignored: [],
    });
  });

  it('returns an untagged push without a tag', () => {
    const { 'image-tag': _, ...detail } = sample.detail;
    expect(parseEcrEvent({ ...sample, detail }).events).toStrictEqual([
      {
        provider: 'ecr',
        registry: '123456789012.dkr.ecr.eu-west-1.amazonaws.com',
        repository: 'kubeflow/metadata',
        digest: DIGEST,
        pushedAt: '2026-01-01T12:00:00.000Z',
      },
    ]);
  });

  it.each([
    [{ result: 'FAILURE' }, 'ecr: result FAILURE'],
    [{ 'action-type': 'DELETE' }, 'ecr: action-type DELETE'],
    // A failed delete: the result is what is reported.
    [{ result: 'FAILURE', 'action-type': 'DELETE' }, 'ecr: result FAILURE'],
  ])('ignores %p', (detail, reason) => {
    expect(parseEcrEvent(with_(detail))).toStrictEqual({ events: [], ignored: [reason] });
  });

  it('ignores a failed push without validating its other fields', () => {
    expect(parseEcrEvent(with_({ result: 'FAILURE', 'repository-name': 42, 'image-digest': null }))).toStrictEqual({
      events: [],
      ignored: ['ecr: result FAILURE'],
    });
  });

  it.each([
    ['another source', with_({}, { source: 'aws.s3' }), 'source'],
    ['another detail-type', with_({}, { 'detail-type': 'ECR Image Scan' }), 'detail-type'],
    ['no detail', { ...sample, detail: undefined }, 'detail'],
    ['a missing result', with_({ result: undefined }), 'detail.result'],
    ['a bad account', with_({}, { account: '12345' }), 'account'],
    ['a bad region', with_({}, { region: 'eu west 1' }), 'region'],
    ['a bad time', with_({}, { time: 1767268800 }), 'time'],
    ['a missing repository', with_({ 'repository-name': undefined }), 'detail.repository-name'],
    ['a bad digest', with_({ 'image-digest': 'sha256:XYZ' }), 'detail.image-digest'],
    ['a bad tag', with_({ 'image-tag': '-v1' }), 'detail.image-tag'],
    ['neither tag nor digest', with_({ 'image-tag': undefined, 'image-digest': undefined }), 'detail.image-digest'],
  ])('rejects %s with a 400 naming the field', (_, event, field) => {
    const error = failure(() => parseEcrEvent(event));
    expect(error.statusCode).toBe(400);
    expect(error.field).toBe(field);
  });

  it.each([null, [], 'aws.ecr', 0])('rejects an event that is not an object (%p)', (event) => {
    expect(failure(() => parseEcrEvent(event))).toMatchObject({ statusCode: 400, field: 'body' });
  });
});
