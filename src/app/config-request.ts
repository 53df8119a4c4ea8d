// The body of POST /webhooks/config, strict: an unknown key is a 400 naming it,
// because a misspelt setting must never be silently ignored.
import * as z from 'zod/mini';
import { configSchema } from '../charm/state.js';
import { lazy, parseBody, text } from '../validation.js';
import type { Trigger } from './deployer.js';

// Host names and IP literals only: the value lands in the server's command line.
const HOST = /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f:.]+)$/;
const MYSQL_USER = /^[A-Za-z0-9_.$-]{1,32}$/;

export const configRequestSchema = lazy(() => {
  const mysql = z.strictObject({
    host: text(z.maxLength(253, 'must be a host name of at most 253 characters'), z.regex(HOST, 'must be a host name or IP address')),
    port: z.int('must be an integer').check(z.minimum(1, 'must be 1–65535'), z.maximum(65535, 'must be 1–65535')),
    user: z.optional(text(z.regex(MYSQL_USER, 'must be a MySQL user name (1–32 letters, digits, _ . $ -)'))),
    password: text(z.minLength(1, 'must not be empty'), z.maxLength(1024, 'must be at most 1024 characters')),
  });
  return z.strictObject({
    config: z.optional(z.partial(configSchema())),
    relations: z.optional(z.strictObject({ mysql: z.optional(z.nullable(mysql)) })),
  });
});

export type ConfigRequest = z.infer<ReturnType<typeof configRequestSchema>>;

/** Validates the body and turns it into the step's trigger (the `config-changed` hook). */
export function parseConfigRequest(body: unknown): Extract<Trigger, { hook: 'config-changed' }> {
  const request = parseBody(configRequestSchema(), body);
  const mysql = request.relations?.mysql;
  return {
    hook: 'config-changed',
    config: request.config,
    mysql: mysql ? { host: mysql.host, port: mysql.port, user: mysql.user ?? 'root', password: mysql.password } : mysql,
  };
}
