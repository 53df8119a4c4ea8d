// What the stored state shows (GET /status, and an ignored event's report): never a secret.
import type { CharmConfig, Status } from '../domain/types.js';
import { CONFIG_DEFAULTS, type CharmState, type OutcomeRecord } from '../charm/state.js';
import type { Target } from '../targets/port.js';
import { mergeRecent } from './recent.js';
import { readStateObject } from './state-store.js';

export type ResourcesView = Record<string, { registryPath: string; digest: string; tag?: string }>;

export interface StatusView {
  status: Status;
  flags: string[];
  resources: ResourcesView;
  failures: Record<string, string>;
  config: CharmConfig;
  /** What became of each accepted event, oldest first (stored ones, then those held in memory). */
  recent: OutcomeRecord[];
  /** The last rollout: progressing, complete or failed, since when, and why. */
  rollout?: RolloutView;
  /** What people decided (POST /control): a pin, a suspension. */
  control: CharmState['control'];
  /** Digests never deployed again by automation, with why. */
  quarantine: CharmState['quarantine'];
}

export interface RolloutView {
  state: 'progressing' | 'complete' | 'failed';
  since: string;
  reason?: string;
  digest?: string;
  revert?: boolean;
}

export function rolloutView(state: CharmState | undefined): RolloutView | undefined {
  const rollout = state?.rollout;
  if (!rollout) return undefined;
  const { state: phase, since, reason, digest, revert } = rollout;
  return { state: phase, since, ...(reason ? { reason } : {}), ...(digest ? { digest } : {}), ...(revert ? { revert } : {}) };
}

export function resourcesView(resources: CharmState['resources']): ResourcesView {
  return Object.fromEntries(
    Object.entries(resources).map(([name, info]) => [name, { registryPath: info.registryPath, digest: info.digest, tag: info.tag }]),
  );
}

export function statusView(state: CharmState | undefined, held: readonly OutcomeRecord[] = []): StatusView {
  return {
    status: state?.status ?? { state: 'maintenance', message: 'no event handled yet' },
    flags: state?.flags ?? [],
    resources: resourcesView(state?.resources ?? {}),
    failures: state?.failures ?? {},
    config: state?.config ?? { ...CONFIG_DEFAULTS },
    recent: mergeRecent(state?.recent ?? [], held),
    ...(state?.rollout ? { rollout: rolloutView(state) } : {}),
    control: state?.control ?? {},
    quarantine: state?.quarantine ?? {},
  };
}

/** What GET /status reads through: a deployer (its held outcomes too), or the state alone. */
export interface StatusSource {
  status(deadline?: () => number): Promise<StatusView>;
}

/**
 * GET /status from the target: the state ConfigMap alone (the status identity may read nothing else,
 * deploy/rbac.yaml; no Secret above all), with the outcomes `held` in memory since the last write.
 */
export async function readStatus(target: Pick<Target, 'read'>, stateName: string, held: OutcomeRecord[], deadline?: () => number): Promise<StatusView> {
  return statusView(readStateObject(await target.read({ kind: 'ConfigMap', name: stateName }, { deadline })), held);
}
