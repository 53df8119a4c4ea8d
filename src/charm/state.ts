// The charm's persisted state: the flag set plus what the layer and the charm
// compare across events. It holds no secret: passwords stay in Secrets, and
// the step compares against the live Secrets' content instead of hashes.
import * as z from 'zod/mini';
import { lazy, text } from '../validation.js';
import type { CharmConfig } from '../domain/types.js';

export const CONFIG_DEFAULTS: CharmConfig = { port: 8080, 'database-name': 'metadb' };

/** MySQL identifier rules: the database name is passed to the server as-is. */
export const DATABASE_NAME = /^[A-Za-z0-9_$]{1,64}$/;

/** The charm's config keys, strict: an unknown key is refused. Built on first use, like every schema here. */
export const configSchema = lazy(() =>
  z.strictObject({
    port: z.int().check(z.minimum(1, 'must be 1–65535'), z.maximum(65535, 'must be 1–65535')),
    'database-name': text(z.regex(DATABASE_NAME, 'must be a MySQL identifier: 1–64 letters, digits, "_" or "$"')),
  }));

/** One instance for `resources` and `lastAvailable` (a zod schema may appear in several places). */
const resourceInfoSchema = lazy(() =>
  z.object({
    registryPath: z.string(),
    digest: z.string(),
    tag: z.optional(z.string()),
    pushedAt: z.optional(z.string()),
    /** Whether a pull Secret carries credentials for it (the Deployment then references it). */
    authenticated: z.boolean(),
  }));

/** What became of one accepted event (the audit trail `GET /status` shows as `recent`). */
function outcomeRecordSchema() {
  return z.object({
    /** The id intake answered (`{"accepted": id}`). */
    id: z.string(),
    /** What the event was: provider, repository and tag, or the config keys; never a value. */
    trigger: z.string(),
    outcome: z.enum(['applied', 'ignored', 'failed', 'dead-lettered']),
    reason: z.optional(z.string()),
    at: z.string(),
  });
}

/** The rollout the workload is in (issue 11): started by the step that set a new pod spec, decided by a verdict. */
function rolloutSchema() {
  return z.object({
    state: z.enum(['progressing', 'complete', 'failed']),
    /** When it started or was decided (ISO 8601); a condition older than the start is an earlier rollout's. */
    since: z.string(),
    reason: z.optional(z.string()),
    /** The accepted event that started it: a delayed check for another rollout is stale. */
    id: z.string(),
    /** The pod spec's identity (no secret: image, config, relation without password, revision). */
    spec: z.string(),
    digest: z.optional(z.string()),
    /** A rollout back to the last Available spec after a failure: never reverted in turn. */
    revert: z.optional(z.boolean()),
    /** Why the template changed: the Deployment's kubernetes.io/change-cause. */
    cause: z.optional(z.string()),
  });
}

/** What people decided through POST /control; lives in the state, so it survives cold starts. */
function controlSchema() {
  return z.object({
    pin: z.optional(z.object({ tag: z.optional(z.string()), digest: z.optional(z.string()) })),
    suspended: z.optional(z.boolean()),
  });
}

/** How many outcomes the state keeps: enough to explain the last deliveries, small enough to rewrite. */
export const RECENT_LIMIT = 25;

function buildCharmStateSchema() {
  return z.object({
    flags: z.array(z.string()),
    /** The docker-resource layer's queue: names still to fetch (failed ones stay). */
    pending: z.array(z.string()),
    resources: z.record(z.string(), resourceInfoSchema()),
    /** Why the last fetch failed, per resource; shown in the status response. */
    failures: z.record(z.string(), z.string()),
    config: configSchema(),
    /** The relation without its password; a reference to an existing Secret is no secret and is kept. */
    mysql: z.optional(z.object({ host: z.string(), port: z.int(), user: z.string(), passwordSecretRef: z.optional(z.object({ name: z.string(), key: z.string() })) })),
    /** Bumped when the MySQL relation changes, so pods restart with the new password. */
    mysqlRevision: z.int(),
    status: z.object({
      state: z.enum(['active', 'maintenance', 'blocked', 'waiting']),
      message: z.string(),
    }),
    /**
     * Bumped whenever the state changes. The Deployment and Service carry it, and
     * no write replaces an object stamped by a newer generation: a step computed
     * from a stale snapshot can then never revert a newer step's workload.
     */
    generation: z._default(z.int(), 0),
    /** The audit trail, oldest first, at most RECENT_LIMIT; stored with the writes that happen anyway. */
    recent: z._default(z.array(outcomeRecordSchema()), []),
    rollout: z.optional(rolloutSchema()),
    /** The image and config of the last rollout that became Available: what a failed one reverts to. */
    lastAvailable: z.optional(z.object({ image: resourceInfoSchema(), config: configSchema() })),
    /** Digests whose rollout failed, with why and when: never deployed again by automation. */
    quarantine: z._default(z.record(z.string(), z.object({ reason: z.string(), at: z.string(), tag: z.optional(z.string()) })), {}),
    control: z._default(controlSchema(), {}),
  });
}

export const charmStateSchema = lazy(buildCharmStateSchema);

export type ResourceInfo = z.infer<ReturnType<typeof resourceInfoSchema>>;
export type OutcomeRecord = z.infer<ReturnType<typeof outcomeRecordSchema>>;
export type Outcome = OutcomeRecord['outcome'];
export type CharmState = z.infer<ReturnType<typeof buildCharmStateSchema>>;
export type RolloutRecord = z.infer<ReturnType<typeof rolloutSchema>>;
export type Control = z.infer<ReturnType<typeof controlSchema>>;

/** The state before the first event: nothing fetched, nothing started. */
export function initialState(): CharmState {
  return {
    flags: [],
    pending: [],
    resources: {},
    failures: {},
    config: { ...CONFIG_DEFAULTS },
    mysqlRevision: 0,
    status: { state: 'maintenance', message: '' },
    generation: 0,
    recent: [],
    quarantine: {},
    control: {},
  };
}
