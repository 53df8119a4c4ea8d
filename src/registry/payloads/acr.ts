// Azure Container Registry webhooks: one action per call, distribution-like
// fields; a digest-only push has `target.tag: ""`.
import { z } from 'zod';
import type { ParsedPushes } from '../../domain/types.js';
import { digest, isoTime, parseAt, parseBody, pushEvent, registryHost, repository, requireTagOrDigest, tagOrEmpty } from './schema.js';

/** Read first: deletes, chart pushes and quarantine events are ignored unvalidated. */
export const acrActionSchema = z.object({ action: z.string().min(1).max(64) });

export const acrPushSchema = z.object({
  timestamp: isoTime.optional(),
  target: z.object({ repository, tag: tagOrEmpty.optional(), digest: digest.optional() }),
  // ACR answers only on its own login server, so the host names the registry.
  request: z.object({ host: registryHost.optional() }).optional(),
});

export function parseAcr(body: unknown, _headers: Record<string, string | undefined> = {}): ParsedPushes {
  const { action } = parseBody(acrActionSchema, body);
  if (action !== 'push') return { events: [], ignored: [`acr: action ${action}`] };
  const { timestamp, target, request } = parseAt(acrPushSchema, body);
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
