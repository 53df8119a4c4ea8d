// One errors module: every failure the deployer reports has a class here, so
// handlers map them to HTTP answers in one place and nothing leaks as a 500.

/** An HTTP-answerable failure; `expose` messages are safe to return to callers. */
export class HttpError extends Error {
  readonly statusCode: number;
  readonly expose = true;
  readonly field?: string;
  constructor(statusCode: number, message: string, field?: string) {
    super(message);
    this.name = 'HttpError';
    this.statusCode = statusCode;
    this.field = field;
  }
}

/** 400: the body is malformed; `field` names the offending path (e.g. `config.port`). */
export const badRequest = (message: string, field?: string): HttpError => new HttpError(400, message, field);
export const unauthorized = (message = 'authentication failed'): HttpError => new HttpError(401, message);
export const notFound = (message: string): HttpError => new HttpError(404, message);
export const payloadTooLarge = (limit: number): HttpError =>
  new HttpError(413, `request body is larger than ${limit} bytes`);
export const unsupportedMediaType = (message: string): HttpError => new HttpError(415, message);

/** An environment variable is missing or invalid: stops cold start, naming the variable. */
export class SettingsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SettingsError';
  }
}

/** The resource could not be fetched (credentials, registry lookup, digest mismatch). */
export class FetchError extends Error {
  /** Whether a later attempt may succeed (network, 5xx, authentication); false when it never will (offline). */
  readonly transient: boolean;
  constructor(message: string, options?: { cause?: unknown; transient?: boolean }) {
    super(message, options);
    this.name = 'FetchError';
    this.transient = options?.transient ?? true;
  }
}

/**
 * The event names an image the registry does not have (a digest answered 404, or served under
 * another digest): bogus or stale. Refused as ignored, never a failure: it changes no state.
 */
export class BogusEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BogusEventError';
  }
}

/** A write lost an optimistic-concurrency race (Kubernetes 409): recompute from a fresh read. */
export class ConflictError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConflictError';
  }
}

/** The target refused or failed a write (after retries); reported in the status, never half-applied. */
export class TargetError extends Error {
  readonly statusCode?: number;
  constructor(message: string, statusCode?: number, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TargetError';
    this.statusCode = statusCode;
  }
}

/** The queue did not take a message (SQS refused or was unreachable): intake answers 5xx, so the sender retries. */
export class QueueError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QueueError';
  }
}

/** Formats a zod issue path the way users write fields: `relations.mysql.port`, `events[0].target`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out ? `.${String(part)}` : String(part);
  }
  return out;
}
