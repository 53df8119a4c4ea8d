// Azure Container Registry webhooks: one action per call, distribution-like
// fields; a digest-only push has `target.tag: ""`.
import * as z from 'zod/mini';
import { text } from '../../validation.js';
import type { ParsedPushes } from '../../domain/types.js';
import { digest, isoTime, lazy, parseAt, parseBody, pushEvent, registryHost, repository, requireTagOrDigest, tagOrEmpty } from './schema.js';

/** Read first: deletes, chart pushes and quarantine events are ignored unvalidated. */
export const acrActionSchema = lazy(() => z.object({ action: text(z.minLength(1), z.maxLength(64)) }));

export const acrPushSchema = lazy(() =>
  z.object({
    timestamp: z.optional(isoTime()),
    target: z.object({ repository: repository(), tag: z.optional(tagOrEmpty()), digest: z.optional(digest()) }),
    // ACR answers only on its own login server, so the host names the registry.
    request: z.optional(z.object({ host: z.optional(registryHost()) })),
  }));

export function parseAcr(body: unknown, _headers: Record<string, string | undefined> = {}): ParsedPushes {
  const { action } = parseBody(acrActionSchema(), body);
  if (action !== 'push') return { events: [], ignored: [`acr: action ${action}`] };
  const { timestamp, target, request } = parseAt(acrPushSchema(), body);
  requireTagOrDigest(target, 'target.digest');
  return {
    events: [
      pushEvent({
        provider: 'acr',
        registry: request?.host,
        repository: target.repository,
        tag: target.tag,
        digest: target.digest,
        pushedAt: timestamp,
      }),
    ],
    ignored: [],
  };
}
