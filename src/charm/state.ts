// The charm's persisted state: the flag set plus what the layer and the charm
// compare across events. It holds no secret: passwords stay in Secrets, and
// the step compares against the live Secrets' content instead of hashes.
import { z } from 'zod';
import type { CharmConfig } from '../domain/types.js';

export const CONFIG_DEFAULTS: CharmConfig = { port: 8080, 'database-name': 'metadb' };

/** MySQL identifier rules: the database name is passed to the server as-is. */
export const DATABASE_NAME = /^[A-Za-z0-9_$]{1,64}$/;

export const configSchema = z.strictObject({
  port: z.int().min(1, 'must be 1–65535').max(65535, 'must be 1–65535'),
  'database-name': z
    .string()
    .regex(DATABASE_NAME, 'must be a MySQL identifier: 1–64 letters, digits, "_" or "$"'),
});

const resourceInfoSchema = z.object({
  registryPath: z.string(),
  digest: z.string(),
  tag: z.string().optional(),
  pushedAt: z.string().optional(),
  /** Whether a pull Secret carries credentials for it (the Deployment then references it). */
  authenticated: z.boolean(),
});

const mysqlSchema = z.object({ host: z.string(), port: z.int(), user: z.string() });

const statusSchema = z.object({
  state: z.enum(['active', 'maintenance', 'blocked', 'waiting']),
  message: z.string(),
});

export const charmStateSchema = z.object({
  flags: z.array(z.string()),
  /** The docker-resource layer's queue: names still to fetch (failed ones stay). */
  pending: z.array(z.string()),
  resources: z.record(z.string(), resourceInfoSchema),
  /** Why the last fetch failed, per resource; shown in the status response. */
  failures: z.record(z.string(), z.string()),
  config: configSchema,
  mysql: mysqlSchema.optional(),
  /** Bumped when the MySQL relation changes, so pods restart with the new password. */
  mysqlRevision: z.int(),
  status: statusSchema,
  /**
   * Bumped whenever the state changes. The Deployment and Service carry it, and
   * no write replaces an object stamped by a newer generation: a step computed
   * from a stale snapshot can then never revert a newer step's workload.
   */
  generation: z.int().default(0),
});

export type ResourceInfo = z.infer<typeof resourceInfoSchema>;
export type CharmState = z.infer<typeof charmStateSchema>;

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
  };
}
