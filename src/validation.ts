// zod, once for the whole project: global settings, schemas built on first use,
// and the one place a zod failure becomes a 400 naming the field as users write it.
// zod/mini, not classic zod: the same checks and issues, a fraction of the load time.
import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';
import { badRequest, formatPath } from './errors.js';

/**
 * Global zod settings, applied before the first schema is built or used. zod/mini loads no locale:
 * English keeps zod's own messages (`expected string, received number`). jitless: zod would compile
 * each object schema into a parser with `new Function` on its first parse, which pays off only over
 * many parses; a cold start parses once or twice. The results are the same either way.
 */
let configured = false;
export function configureZod(): void {
  if (configured) return;
  configured = true;
  z.config({ ...en(), jitless: true });
}

/** A value built on first call and kept: schemas cost nothing until a request needs them. */
export function lazy<T>(build: () => T): () => T {
  let value: T | undefined;
  return () => {
    configureZod();
    return (value ??= build());
  };
}

const message: z.core.$ZodErrorMap = (issue) =>
  issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : undefined; // else zod's own

/** Validates `value` (found at `prefix` in the body); a failure is a 400 naming the first bad field. */
export function parseAt<S extends z.ZodMiniType>(schema: S, value: unknown, prefix: ReadonlyArray<PropertyKey> = []): z.output<S> {
  configureZod();
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
export function parseBody<S extends z.ZodMiniType>(schema: S, body: unknown): z.output<S> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw badRequest('body must be a JSON object', 'body');
  }
  return parseAt(schema, body);
}

/**
 * A string with checks. zod runs length checks on any input with a `length`
 * (and string checks after a failed type check): a JSON body such as
 * `{"length": {"toString": null, "valueOf": null}}` then throws a TypeError.
 * The pipe stops a non-string at the type check, so it is a plain 400.
 */
export function text(...checks: Parameters<z.ZodMiniString['check']>): z.ZodMiniPipe<z.ZodMiniString, z.ZodMiniString> {
  return z.pipe(z.string(), z.string().check(...checks));
}
