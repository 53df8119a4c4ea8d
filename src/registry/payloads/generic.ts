// The `generic` format, for CI systems and scripts that can POST JSON but are
// not a registry (POST /webhooks/registry/generic):
//
//   {
//     "repository": "kubeflow-images-public/metadata",  // required, ≤ 255 chars
//     "tag": "v0.1.9",                                  // optional, ^[\w][\w.-]{0,127}$
//     "digest": "sha256:<64 hex>",                      // optional
//     "pushedAt": "2026-01-01T00:00:00Z",               // optional, ISO 8601 with a zone
//     "registry": "gcr.io"                              // optional, host[:port]
//   }
//
// At least one of `tag` and `digest`. Types are strict (no coercion) and, unlike
// the registries' formats, unknown keys are refused: it is our own format, so a
// misspelt `registy` or `pushed_at` must be a 400, not silently dropped.
// Authenticate with `Authorization: Bearer <secret>` or
// `X-Signature: sha256=<hex HMAC-SHA256 of the raw body, keyed with the secret>`.
import * as z from 'zod/mini';
import type { ParsedPushes } from '../../domain/types.js';
import { digest, isoTime, lazy, parseBody, pushEvent, registryHost, repository, requireTagOrDigest, tag } from './schema.js';

export const genericSchema = lazy(() =>
  z.strictObject({
    repository: repository(),
    tag: z.optional(tag()),
    digest: z.optional(digest()),
    pushedAt: z.optional(isoTime()),
    registry: z.optional(registryHost()),
  }));

export function parseGeneric(body: unknown, _headers: Record<string, string | undefined> = {}): ParsedPushes {
  const payload = parseBody(genericSchema(), body);
  requireTagOrDigest(payload, 'tag');
  return { events: [pushEvent({ provider: 'generic', ...payload })], ignored: [] };
}
