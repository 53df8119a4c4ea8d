// What intake puts on the queue and the worker applies: one command per accepted
// event, already authenticated, validated and normalised. The worker parses it
// again (a queue is a trust boundary too: an invalid command is refused, never retried).
import * as z from 'zod/mini';
import { lazy } from '../validation.js';
import type { CharmConfig, MysqlRelation, PushEvent } from './types.js';

export type Command =
  /** A registry push (webhook or ECR): the layer's resource update (`upgrade-charm`). */
  | { kind: 'push'; id: string; receivedAt: string; pushes: PushEvent[] }
  /** The config webhook: `config-changed`, with the mysql relation's data. */
  | { kind: 'config'; id: string; receivedAt: string; config?: Partial<CharmConfig>; mysql?: MysqlRelation | null }
  /** The schedule: re-resolve what the policy allows (renews credentials, catches a lost webhook). */
  | { kind: 'refresh'; id: string; receivedAt: string };

export type CommandKind = Command['kind'];

/** A step's input, as the charm sees it: one Juju hook. */
export type Trigger =
  /** A resource update: registry pushes, or (without `pushes`) the scheduled refresh, maybe with its chosen tag. */
  | { hook: 'upgrade-charm'; pushes?: PushEvent[]; tag?: string }
  | { hook: 'config-changed'; config?: Partial<CharmConfig>; mysql?: MysqlRelation | null };

const PROVIDERS = ['distribution', 'dockerhub', 'harbor', 'quay', 'acr', 'ghcr', 'generic', 'ecr'] as const;

function buildCommandSchema() {
  const common = { id: z.string().check(z.minLength(1), z.maxLength(128)), receivedAt: z.string() };
  const push = z.object({
    provider: z.enum(PROVIDERS),
    registry: z.optional(z.string()),
    repository: z.string(),
    tag: z.optional(z.string()),
    digest: z.optional(z.string()),
    pushedAt: z.optional(z.string()),
  });
  // Exactly one of the two (strict: an object with both matches neither, so it is refused, not trimmed).
  const relation = { host: z.string(), port: z.int(), user: z.string() };
  const mysql = z.union([
    z.strictObject({ ...relation, password: z.string() }),
    z.strictObject({ ...relation, passwordSecretRef: z.strictObject({ name: z.string(), key: z.string() }) }),
  ]);
  return z.discriminatedUnion('kind', [
    z.object({ kind: z.literal('push'), ...common, pushes: z.array(push).check(z.minLength(1)) }),
    z.object({
      kind: z.literal('config'),
      ...common,
      config: z.optional(z.object({ port: z.optional(z.int()), 'database-name': z.optional(z.string()) })),
      mysql: z.optional(z.nullable(mysql)),
    }),
    z.object({ kind: z.literal('refresh'), ...common }),
  ]);
}

export const commandSchema = lazy(buildCommandSchema);

/** The command in a queue message body, or undefined when it is not one (a poison message). */
export function parseCommand(body: string): Command | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return undefined;
  }
  const parsed = commandSchema().safeParse(json);
  return parsed.success ? (parsed.data as Command) : undefined;
}

/** What a command is, for logs and the audit trail: never its payload (a config carries a password). */
export function describeCommand(command: Command): string {
  switch (command.kind) {
    case 'push':
      return command.pushes.map((push) => `${push.provider} ${push.repository}:${push.tag ?? push.digest ?? '?'}`).join(', ');
    case 'config':
      return `config${command.config ? ` ${Object.keys(command.config).sort().join(',')}` : ''}${command.mysql === undefined ? '' : ' mysql'}`;
    case 'refresh':
      return 'scheduled refresh';
  }
}
