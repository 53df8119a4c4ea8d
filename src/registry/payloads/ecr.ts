// AWS ECR has no webhooks: the EventBridge rule (`source: aws.ecr`,
// `detail-type: ECR Image Action`) invokes the push function with the event.
// One event per image action; untagged pushes have no `image-tag`.
import * as z from 'zod/mini';
import { text } from '../../validation.js';
import type { ParsedPushes } from '../../domain/types.js';
import { digest, isoTime, lazy, parseBody, pushEvent, repository, requireTagOrDigest, tagOrEmpty } from './schema.js';

/** Read first: failed pushes and deletes are ignored whatever else they carry. */
export const ecrOutcomeSchema = lazy(() =>
  z.object({
    source: z.literal('aws.ecr'),
    'detail-type': z.literal('ECR Image Action'),
    detail: z.object({ result: text(z.maxLength(64)), 'action-type': text(z.maxLength(64)) }),
  }));

export const ecrPushSchema = lazy(() =>
  z.object({
    account: text(z.regex(/^\d{12}$/, 'must be a 12-digit AWS account id')),
    region: text(z.regex(/^[a-z]{2}(?:-[a-z]+)+-\d{1,2}$/, 'must be an AWS region')),
    time: z.optional(isoTime()),
    detail: z.object({
      'repository-name': repository(),
      'image-digest': z.optional(digest()),
      'image-tag': z.optional(tagOrEmpty()),
    }),
  }));

export function parseEcrEvent(event: unknown): ParsedPushes {
  const { detail: outcome } = parseBody(ecrOutcomeSchema(), event);
  if (outcome.result !== 'SUCCESS') return { events: [], ignored: [`ecr: result ${outcome.result}`] };
  if (outcome['action-type'] !== 'PUSH') return { events: [], ignored: [`ecr: action-type ${outcome['action-type']}`] };
  const { account, region, time, detail } = parseBody(ecrPushSchema(), event);
  const push = { tag: detail['image-tag'], digest: detail['image-digest'] };
  requireTagOrDigest(push, 'detail.image-digest');
  return {
    events: [
      pushEvent({
        provider: 'ecr',
        registry: `${account}.dkr.ecr.${region}.amazonaws.com`,
        repository: detail['repository-name'],
        ...push,
        pushedAt: time,
      }),
    ],
    ignored: [],
  };
}
