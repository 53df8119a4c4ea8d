// What the rules read and write during one step: the flags, the working state,
// this step's inputs, and the statuses set (in order). Pure data, no I/O.
import type { FlagContext } from '../reactive/engine.js';
import type { CharmConfig, ImageInfo, MysqlRelation, RegistryCredentials, RolloutVerdict, Status } from '../domain/types.js';
import type { CharmState, ResourceInfo } from './state.js';

/** The Juju hook an event stands for: a registry push is a resource update (upgrade-charm). */
export type Hook = 'upgrade-charm' | 'config-changed' | 'update-status';

/** A fetch's result; a failure says whether retrying the event may help (the shell's concern, not the rules'). */
export type FetchOutcome = { ok: true; info: ImageInfo } | { ok: false; reason: string; transient?: boolean };

export interface StepInputs {
  hook: Hook;
  config?: Partial<CharmConfig>;
  /** Relation data: an object when (re)joined or changed, null when departed, absent when unchanged. */
  mysql?: MysqlRelation | null;
  /** Results of the fetches `plannedFetches` asked for, by resource name. */
  fetched: Record<string, FetchOutcome>;
  /** Secret values read from the target, so changes are detected without storing them in state. */
  live: { mysqlPassword?: string; registryCredentials?: RegistryCredentials };
  /** The layer option `set-status`: when false the layer sets no status. */
  setStatus: boolean;
  /** The verdict on the standing rollout (update-status only). */
  rollout?: RolloutVerdict;
  /** Whether the target's rollouts are followed (Kubernetes); false: a rollout completes at once (the directory). */
  verify?: boolean;
  /** KFM_REVERT: a failed rollout re-applies the last Available spec (default true). */
  revert?: boolean;
  /** The step's time (ISO 8601) and event id, recorded with a rollout. */
  now?: string;
  eventId?: string;
  /** Why this step changes the template (the change-cause annotation). */
  cause?: string;
}

/** What the charm handed to the workload (its `pod_set_spec`). */
export interface PodSpec {
  image: ResourceInfo;
  credentials?: RegistryCredentials;
  config: CharmConfig;
  mysql: MysqlRelation;
  mysqlRevision: number;
}

export interface StepContext extends FlagContext {
  state: CharmState;
  inputs: StepInputs;
  statuses: Status[];
  /** Credentials fetched this step, by resource name (never persisted). */
  credentials: Record<string, RegistryCredentials | undefined>;
  mysqlPassword?: string;
  podSpec?: PodSpec;
  /** Set by a failed rollout's revert: the spec set next is the last Available one. */
  reverting?: boolean;
}

export function setStatus(context: StepContext, state: Status['state'], message: string): void {
  context.statuses.push({ state, message });
}

export const flag = {
  hook: (hook: Hook) => `hook.${hook}`,
  resource: (name: string, suffix: 'fetched' | 'available' | 'failed' | 'changed') =>
    `layer.docker-resource.${name}.${suffix}`,
  pending: 'layer.docker-resource.pending',
  configChanged: 'config.changed',
  configKeyChanged: (key: string) => `config.changed.${key}`,
  mysqlAvailable: 'mysql.available',
  mysqlChanged: 'mysql.changed',
  started: 'charm.started',
  /** The pod spec was (re)set this step (transient). */
  specChanged: 'workload.spec.changed',
  rollingOut: 'workload.rolling-out',
  rolloutFailed: 'workload.rollout-failed',
  /** The update-status step's verdict (transient). */
  verdict: (state: RolloutVerdict['state']) => `workload.verdict.${state}`,
} as const;
