// The body of POST /webhooks/config, strict: an unknown key is a 400 naming it,
// because a misspelt setting must never be silently ignored.
//
// MySQL's password comes one of two ways: `password` (the deployer stores it in a Secret of its
// own), or `passwordSecretRef: {name, key}`, an existing Secret in the workload's namespace (the one
// a MySQL operator made, say): the container's MYSQL_ROOT_PASSWORD then points at it, the password
// never crosses a webhook, and the deployer neither reads it nor writes a MySQL Secret.
import * as z from 'zod/mini';
import { configSchema } from '../charm/state.js';
import { badRequest } from '../errors.js';
import { lazy, parseBody, text } from '../validation.js';
import type { Trigger } from './deployer.js';

// Host names and IP literals only: the value lands in the server's command line.
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]+)$/;
const MYSQL_USER = /^[A-Za-z0-9_.$-]{1,32}$/;
/** What the API server takes as a Secret's name (a DNS subdomain) and as a key of its data. */
const SECRET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

export const configRequestSchema = lazy(() => {
  const secretRef = z.strictObject({
    name: text(z.maxLength(253, 'must be a Secret name of at most 253 characters'), z.regex(SECRET_NAME, 'must be a Secret name (lower case letters, digits, "-" and ".")')),
    key: text(z.maxLength(253, 'must be a key of at most 253 characters'), z.regex(SECRET_KEY, 'must be a Secret key (letters, digits, "-", "_" and ".")')),
  });
  const mysql = z.strictObject({
    host: text(z.maxLength(253, 'must be a host name of at most 253 characters'), z.regex(HOST, 'must be a host name or IP address')),
    port: z.int('must be an integer').check(z.minimum(1, 'must be 1–65535'), z.maximum(65535, 'must be 1–65535')),
    user: z.optional(text(z.regex(MYSQL_USER, 'must be a MySQL user name (1–32 letters, digits, _ . $ -)'))),
    password: z.optional(text(z.minLength(1, 'must not be empty'), z.maxLength(1024, 'must be at most 1024 characters'))),
    passwordSecretRef: z.optional(secretRef),
  }).check(
    z.refine((m) => m.password !== undefined || m.passwordSecretRef !== undefined, { message: 'is required (or passwordSecretRef: {"name", "key"} of an existing Secret)', path: ['password'] }),
    z.refine((m) => m.password === undefined || m.passwordSecretRef === undefined, { message: 'exactly one of password and passwordSecretRef', path: ['passwordSecretRef'] }),
  );
  return z.strictObject({
    config: z.optional(z.partial(configSchema())),
    relations: z.optional(z.strictObject({ mysql: z.optional(z.nullable(mysql)) })),
  });
});

export type ConfigRequest = z.infer<ReturnType<typeof configRequestSchema>>;

export interface ConfigRequestOptions {
  /** The deployer's own Secrets (workloadNames): a reference to one of them would hand its data to the container. */
  ownSecrets?: readonly string[];
}

/** Validates the body and turns it into the step's trigger (the `config-changed` hook). */
export function parseConfigRequest(body: unknown, options: ConfigRequestOptions = {}): Extract<Trigger, { hook: 'config-changed' }> {
  const request = parseBody(configRequestSchema(), body);
  const mysql = request.relations?.mysql;
  const ref = mysql?.passwordSecretRef;
  if (ref && options.ownSecrets?.includes(ref.name)) {
    const field = 'relations.mysql.passwordSecretRef.name';
    throw badRequest(`${field}: must name the MySQL password's own Secret, not one the deployer writes`, field);
  }
  if (!mysql) return { hook: 'config-changed', config: request.config, mysql };
  const relation = { host: mysql.host, port: mysql.port, user: mysql.user ?? 'root' };
  return {
    hook: 'config-changed',
    config: request.config,
    mysql: ref ? { ...relation, passwordSecretRef: { name: ref.name, key: ref.key } } : { ...relation, password: mysql.password! },
  };
}
