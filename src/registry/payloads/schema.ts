// Shared by the registry payload parsers: the one place a zod failure becomes a
// 400 naming the field as users write it, and the bounded field schemas every
// format reuses (so "what a valid tag is" is decided once).
import { z } from 'zod';
import type { PushEvent } from '../../domain/types.js';
import { badRequest, formatPath } from '../../errors.js';
import { DIGEST, normaliseRegistry } from '../../image/reference.js';

const TAG = /^[\w][\w.-]{0,127}$/;
// Lenient on case (the caller normalises) but no spaces or control characters:
// the repository ends up in logs and responses.
const REPOSITORY = /^[A-Za-z0-9][A-Za-z0-9._/-]*$/;
const HOST =
  /^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;
// Year 9999: later instants format as `+010000-…`, which breaks ordering by string.
const MAX_EPOCH_SECONDS = 253402300799;
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

export const repository = z
  .string()
  .min(1, 'must not be empty')
  .max(255, 'must be at most 255 characters')
  .regex(REPOSITORY, 'must be a repository path (letters, digits, . _ - /)');

export const tag = z.string().max(128, 'must be at most 128 characters').regex(TAG, 'must be a tag (letters, digits, _ . -; at most 128)');

/** Registries that send `""` for a push by digest: the empty string means "no tag". */
export const tagOrEmpty = z
  .string()
  .max(128, 'must be at most 128 characters')
  .refine((text) => text === '' || TAG.test(text), 'must be a tag (letters, digits, _ . -; at most 128) or empty')
  .transform((text) => (text === '' ? undefined : text));

export const digest = z.string().max(71, 'must be a sha256 digest').regex(DIGEST, 'must be a sha256 digest (sha256:<64 hex>)');

/** Unix seconds (Docker Hub, Harbor) → ISO 8601. */
export const unixSeconds = z
  .number()
  .min(0, 'must be unix seconds')
  .max(MAX_EPOCH_SECONDS, 'must be unix seconds')
  .transform((seconds) => new Date(Math.round(seconds * 1000)).toISOString());

/** An ISO 8601 date-time with a zone, normalised to UTC milliseconds (`…Z`) so times compare as strings. */
export const isoTime = z
  .string()
  .max(64, 'must be an ISO 8601 date-time')
  .regex(ISO_DATE_TIME, 'must be an ISO 8601 date-time with a zone')
  .transform((text, ctx) => {
    // Date parses at most millisecond precision reliably; Go sends nanoseconds.
    const time = new Date(text.replace(/(\.\d{3})\d+/, '$1'));
    const ms = time.getTime();
    if (Number.isNaN(ms) || ms < 0 || ms > MAX_EPOCH_SECONDS * 1000) {
      ctx.addIssue({ code: 'custom', message: 'must be a valid date-time' });
      return z.NEVER;
    }
    return time.toISOString();
  });

function checkHost(host: string, ctx: z.core.$RefinementCtx<string>): string {
  const normalised = normaliseRegistry(host);
  if (normalised.length > 255 || !HOST.test(normalised)) {
    ctx.addIssue({ code: 'custom', message: 'must name a registry host' });
    return z.NEVER;
  }
  return normalised;
}

/** A registry host (`acme.azurecr.io`, `registry:5000`), normalised. */
export const registryHost = z.string().max(512, 'must name a registry host').transform(checkHost);

/** The host part of an image reference or URL (`harbor.example/kubeflow/metadata:v1`). */
export const hostOfReference = z
  .string()
  .max(2048, 'must be an image reference')
  .transform((text, ctx) => checkHost(text.replace(/^https?:\/\//i, '').split('/')[0] ?? '', ctx));

const message: z.core.$ZodErrorMap = (issue) =>
  issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : undefined; // else zod's own

/** Validates `value` (found at `prefix` in the body); a failure is a 400 naming the first bad field. */
export function parseAt<S extends z.ZodType>(schema: S, value: unknown, prefix: ReadonlyArray<PropertyKey> = []): z.output<S> {
  const result = schema.safeParse(value, { error: message });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  // An unknown key (strict schemas) is reported at its own path, so the 400 names it.
  const key = issue?.code === 'unrecognized_keys' ? issue.keys.slice(0, 1) : [];
  const field = formatPath([...prefix, ...(issue?.path ?? []), ...key]) || 'body';
  const text = (issue?.message ?? 'is invalid').replace(/^Invalid input: /, '');
  throw badRequest(`${field}: ${text}`, field);
}

/** Validates a whole webhook body: anything but a JSON object is a 400 naming `body`. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('body must be a JSON object', 'body');
  }
  return parseAt(schema, body);
}

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
