// CNCF distribution (registry:2) notifications: `{"events":[...]}`, batched, with
// every blob upload and every read notified too. Only manifest pushes matter.
// The body format is the same for the v1+json and v2+json content types.
// `request.host` is the Host header the pushing client addressed the registry
// by: it names the registry (compared with KFM_IMAGE's, never contacted), so a
// notification from another registry that holds the push secret is ignored.
import * as z from 'zod/mini';
import { text } from '../../validation.js';
import type { ParsedPushes, PushEvent } from '../../domain/types.js';
import { digest, isoTime, lazy, parseAt, parseBody, pushEvent, repository, requireTagOrDigest, tagOrEmpty, validHost } from './schema.js';

import { MANIFEST_TYPES as MANIFEST_TYPE_LIST } from '../../image/reference.js';

const MANIFEST_TYPES = new Set(MANIFEST_TYPE_LIST);

export const distributionEnvelopeSchema = lazy(() => z.object({ events: z.array(z.unknown()) }));

/** Read first, so pulls and deletes are ignored without validating the rest. */
export const distributionActionSchema = lazy(() => z.object({ action: text(z.minLength(1), z.maxLength(64)) }));

export const distributionPushSchema = lazy(() =>
  z.object({
    timestamp: z.optional(isoTime()),
    target: z.object({
      mediaType: z.optional(text(z.maxLength(255))),
      repository: repository(),
      // Push by digest has no tag; an empty one is read the same way.
      tag: z.optional(tagOrEmpty()),
      digest: z.optional(digest()),
    }),
    // Any text: what is not a host name is not KFM_IMAGE's registry either (ignored, not a 400 that
    // would hold the registry's whole notification queue behind one odd Host header).
    request: z.optional(z.object({ host: z.optional(text()) })),
  }));

type DistributionPush = z.output<ReturnType<typeof distributionPushSchema>>;

/** Why a push is not a manifest push, or undefined when it is one. */
function notAManifest(target: DistributionPush['target']): string | undefined {
  if (target.mediaType === undefined) {
    // Old registries omit mediaType; a tag can only be set by a manifest push.
    return target.tag === undefined ? 'push without media type or tag' : undefined;
  }
  const type = (target.mediaType.split(';')[0] ?? '').trim().toLowerCase();
  if (MANIFEST_TYPES.has(type)) return undefined;
  return /manifest|index/.test(type) ? `unsupported manifest type (${type})` : `blob push (${type})`;
}

export function parseDistribution(body: unknown, _headers: Record<string, string | undefined> = {}): ParsedPushes {
  const { events: raw } = parseBody(distributionEnvelopeSchema(), body);
  const events: PushEvent[] = [];
  const ignored: string[] = [];
  raw.forEach((item, index) => {
    const at = ['events', index] as const;
    const { action } = parseAt(distributionActionSchema(), item, at);
    if (action !== 'push') {
      ignored.push(`events[${index}]: ${action}`);
      return;
    }
    const { timestamp, target, request } = parseAt(distributionPushSchema(), item, at);
    const reason = notAManifest(target);
    if (reason !== undefined) {
      ignored.push(`events[${index}]: ${reason}`);
      return;
    }
    requireTagOrDigest(target, `events[${index}].target.digest`);
    // An empty Host (an HTTP/1.0 client) names no registry: the push is taken as for KFM_IMAGE's.
    const host = request?.host ? validHost(request.host) : undefined;
    if (request?.host && host === undefined) {
      ignored.push(`events[${index}]: request.host is not a registry host name`);
      return;
    }
    events.push(
      pushEvent({
        provider: 'distribution',
        registry: host,
        repository: target.repository,
        tag: target.tag,
        digest: target.digest,
        pushedAt: timestamp,
      }),
    );
  });
  return { events, ignored };
}
