// What the stored state shows (GET /status, and an ignored event's report): never a secret.
import type { CharmConfig, Status } from '../domain/types.js';
import { CONFIG_DEFAULTS, type CharmState, type OutcomeRecord } from '../charm/state.js';
import { mergeRecent } from './recent.js';

export type ResourcesView = Record<string, { registryPath: string; digest: string; tag?: string }>;

export interface StatusView {
  status: Status;
  flags: string[];
  resources: ResourcesView;
  failures: Record<string, string>;
  config: CharmConfig;
  /** What became of each accepted event, oldest first (stored ones, then those held in memory). */
  recent: OutcomeRecord[];
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
  };
}
