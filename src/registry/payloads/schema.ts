// Shared by the registry payload parsers: the one place a zod failure becomes a
// bounded field schemas every format reuses (so "what a valid tag is" is decided
// once); the zod → 400 mapping itself is src/validation.ts.
// zod/mini, not classic zod: the same checks and issues, a fraction of the load
// time. Schemas are built on first use (`lazy`), so a cold start pays only for
// the format it parses.
import * as z from 'zod/mini';
import type { PushEvent } from '../../domain/types.js';
import { badRequest } from '../../errors.js';
import { lazy, text } from '../../validation.js';

export { lazy, parseAt, parseBody } from '../../validation.js';
import { DIGEST, MAX_REPOSITORY_LENGTH, normaliseRegistry, REPOSITORY, TAG } from '../../image/reference.js';

const HOST =
  /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;
// Year 9999: later instants format as `+010000-…`, which breaks ordering by string.
const MAX_EPOCH_SECONDS = 253402300799;
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

/**
 * A repository name as the OCI distribution grammar has it (src/image/reference.ts): no registry sends
 * another, so anything else is a bogus event, a 400 naming the field, never "another repository".
 */
export const repository = lazy(() =>
  text(
    z.minLength(1, 'must not be empty'),
    z.maxLength(MAX_REPOSITORY_LENGTH, `must be at most ${MAX_REPOSITORY_LENGTH} characters`),
    z.regex(REPOSITORY, 'must be a repository name (lower-case letters and digits, separated by ".", "_", "__", "-" or "/")'),
  ));

export const tag = lazy(() =>
  text(z.maxLength(128, 'must be at most 128 characters'), z.regex(TAG, 'must be a tag (letters, digits, _ . -; at most 128)')));

/** Registries that send `""` for a push by digest: the empty string means "no tag". */
export const tagOrEmpty = lazy(() =>
  z.pipe(
    text(
      z.maxLength(128, 'must be at most 128 characters'),
      z.refine((text) => text === '' || TAG.test(text), 'must be a tag (letters, digits, _ . -; at most 128) or empty'),
    ),
    z.transform((text: string) => (text === '' ? undefined : text)),
  ));

export const digest = lazy(() =>
  text(z.maxLength(71, 'must be a sha256 digest'), z.regex(DIGEST, 'must be a sha256 digest (sha256:<64 hex>)')));

/** Unix seconds (Docker Hub, Harbor) → ISO 8601. */
export const unixSeconds = lazy(() =>
  z.pipe(
    z.number().check(z.minimum(0, 'must be unix seconds'), z.maximum(MAX_EPOCH_SECONDS, 'must be unix seconds')),
    z.transform((seconds: number) => new Date(Math.round(seconds * 1000)).toISOString()),
  ));

/** An ISO 8601 date-time with a zone, normalised to UTC milliseconds (`…Z`) so times compare as strings. */
export const isoTime = lazy(() =>
  z.pipe(
    text(z.maxLength(64, 'must be an ISO 8601 date-time'), z.regex(ISO_DATE_TIME, 'must be an ISO 8601 date-time with a zone')),
    z.transform((text: string, ctx) => {
      // Date parses at most millisecond precision reliably; Go sends nanoseconds.
      const time = new Date(text.replace(/(\.\d{3})\d+/, '$1'));
      const ms = time.getTime();
      if (Number.isNaN(ms) || ms < 0 || ms > MAX_EPOCH_SECONDS * 1000) {
        ctx.issues.push({ code: 'custom', message: 'must be a valid date-time', input: text });
        return z.NEVER;
      }
      return time.toISOString();
    }),
  ));

/** The host normalised (`Index.Docker.IO` → `docker.io`), or undefined when it is not a host[:port]. */
export function validHost(host: string): string | undefined {
  const normalised = normaliseRegistry(host);
  return normalised.length > 255 || !HOST.test(normalised) ? undefined : normalised;
}

function checkHost(host: string, ctx: z.core.ParsePayload): string {
  const normalised = validHost(host);
  if (normalised === undefined) {
    ctx.issues.push({ code: 'custom', message: 'must name a registry host', input: host });
    return z.NEVER;
  }
  return normalised;
}

/** A registry host (`acme.azurecr.io`, `registry:5000`), normalised. */
export const registryHost = lazy(() => z.pipe(text(z.maxLength(512, 'must name a registry host')), z.transform(checkHost)));

/** The host part of an image reference or URL (`harbor.example/kubeflow/metadata:v1`). */
export const hostOfReference = lazy(() =>
  z.pipe(
    text(z.maxLength(2048, 'must be an image reference')),
    z.transform((text: string, ctx) => checkHost(text.replace(/^https?:\/\//i, '').split('/')[0] ?? '', ctx)),
  ));

/** A push must name an image: a tag, a digest, or both. */
export function requireTagOrDigest(event: { tag?: string | undefined; digest?: string | undefined }, field: string): void {
  if (event.tag === undefined && event.digest === undefined) {
    throw badRequest(`${field}: a push needs a tag or a digest`, field);
  }
}

/** A PushEvent without undefined keys, so responses and strict equality stay clean. */
export function pushEvent(event: PushEvent): PushEvent {
  return Object.fromEntries(Object.entries(event).filter(([, value]) => value !== undefined)) as unknown as PushEvent;
}
