// What intake puts on the queue and the worker applies: one command per accepted
// event, already authenticated, validated and normalised. The worker parses it
// again (a queue is a trust boundary too: an invalid command is refused, never retried).
import * as z from 'zod/mini';
import { lazy, text } from '../validation.js';
import { DIGEST, TAG } from '../image/reference.js';
import type { CharmConfig, MysqlRelation, PushEvent, RolloutVerdict } from './types.js';

export type Command =
  /** A registry push (webhook or ECR): the layer's resource update (`upgrade-charm`). */
  | { kind: 'push'; id: string; receivedAt: string; pushes: PushEvent[] }
  /** The config webhook: `config-changed`, with the mysql relation's data. */
  | { kind: 'config'; id: string; receivedAt: string; config?: Partial<CharmConfig>; mysql?: MysqlRelation | null }
  /** The schedule: re-resolve what the policy allows (renews credentials, catches a lost webhook). */
  | { kind: 'refresh'; id: string; receivedAt: string }
  /** POST /control: what people decide (src/intake/control.ts). */
  | { kind: 'control'; id: string; receivedAt: string; control: ControlRequest }
  /** A rollout that outlived an invocation: look again (stale once another rollout started). */
  | { kind: 'check'; id: string; receivedAt: string; rollout: string };

/** One POST /control request: exactly one of these. */
export type ControlRequest =
  | { pin: { tag: string; digest?: undefined } | { digest: string; tag?: undefined } }
  | { unpin: true }
  | { suspend: true }
  | { resume: true }
  | { unquarantine: string };

export type CommandKind = Command['kind'];

/** A step's input, as the charm sees it: one Juju hook. */
export type Trigger =
  /**
   * A resource update: registry pushes, or (without `pushes`) the scheduled refresh, maybe with its
   * chosen tag; a control request that deploys (pin) or gives automation back (unpin, resume).
   */
  | { hook: 'upgrade-charm'; pushes?: PushEvent[]; tag?: string; control?: ControlRequest }
  | { hook: 'config-changed'; config?: Partial<CharmConfig>; mysql?: MysqlRelation | null }
  /**
   * Juju's periodic hook: a rollout check (`check`: the rollout it is for; `verdict`: what the shell
   * observed), or a control request that changes only the state (suspend, unquarantine).
   */
  | { hook: 'update-status'; check?: string; verdict?: RolloutVerdict; control?: ControlRequest };

const PROVIDERS = ['distribution', 'dockerhub', 'harbor', 'quay', 'acr', 'ghcr', 'generic', 'ecr'] as const;

// One schema per kind, each built on first use: a worker's cold start parses one command and builds only
// its kind's schema (the whole union was ~70 zod schemas, ~3 ms). `kind` picks the schema, as the
// discriminated union did; any other kind is refused.
const common = () => ({ id: z.string().check(z.minLength(1), z.maxLength(128)), receivedAt: z.string() });
const COMMAND_SCHEMAS = {
  push: lazy(() => z.object({
    kind: z.literal('push'),
    ...common(),
    pushes: z.array(z.object({
      provider: z.enum(PROVIDERS),
      registry: z.optional(z.string()),
      repository: z.string(),
      tag: z.optional(z.string()),
      digest: z.optional(z.string()),
      pushedAt: z.optional(z.string()),
    })).check(z.minLength(1)),
  })),
  config: lazy(() => {
    // Exactly one of the two (strict: an object with both matches neither, so it is refused, not trimmed).
    const relation = { host: z.string(), port: z.int(), user: z.string() };
    const mysql = z.union([
      z.strictObject({ ...relation, password: z.string() }),
      z.strictObject({ ...relation, passwordSecretRef: z.strictObject({ name: z.string(), key: z.string() }) }),
    ]);
    return z.object({
      kind: z.literal('config'),
      ...common(),
      config: z.optional(z.object({ port: z.optional(z.int()), 'database-name': z.optional(z.string()) })),
      mysql: z.optional(z.nullable(mysql)),
    });
  }),
  refresh: lazy(() => z.object({ kind: z.literal('refresh'), ...common() })),
  control: lazy(() => z.object({ kind: z.literal('control'), ...common(), control: controlRequestSchema() })),
  check: lazy(() => z.object({ kind: z.literal('check'), ...common(), rollout: z.string() })),
} satisfies Record<CommandKind, () => z.ZodMiniType>;

/** POST /control's body, strict: one key, and a tag or digest that the registry grammar allows. */
export const controlRequestSchema = lazy(() => {
  const tag = text(z.regex(TAG, 'must be a tag (letters, digits, "_", "." and "-", at most 128)'));
  const digest = text(z.regex(DIGEST, 'must be a sha256 digest ("sha256:" and 64 hex digits)'));
  return z.union([
    z.strictObject({ pin: z.union([z.strictObject({ tag }), z.strictObject({ digest })]) }),
    z.strictObject({ unpin: z.literal(true) }),
    z.strictObject({ suspend: z.literal(true) }),
    z.strictObject({ resume: z.literal(true) }),
    z.strictObject({ unquarantine: digest }),
  ]);
});

/** The command in a queue message body, or undefined when it is not one (a poison message). */
export function parseCommand(body: string): Command | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return undefined;
  }
  const kind = typeof json === 'object' && json !== null ? (json as { kind?: unknown }).kind : undefined;
  if (typeof kind !== 'string' || !Object.hasOwn(COMMAND_SCHEMAS, kind)) return undefined;
  const parsed = COMMAND_SCHEMAS[kind as CommandKind]().safeParse(json);
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
    case 'control':
      return `control ${describeControl(command.control)}`;
    case 'check':
      return 'rollout check';
  }
}

/** `pin tag 1.2.3`, `suspend`, `unquarantine sha256:…`. */
export function describeControl(control: ControlRequest): string {
  if ('pin' in control) return control.pin.tag !== undefined ? `pin tag ${control.pin.tag}` : `pin digest ${control.pin.digest}`;
  if ('unquarantine' in control) return `unquarantine ${control.unquarantine}`;
  return Object.keys(control)[0] ?? '?';
}
