// The pure half of a step: which trigger acts, and (given what was fetched) the
// next state and the workload it stands for. No I/O: the shell reads the
// snapshot and fetches before, and claims and writes after.
import type { CharmConfig, MysqlRelation, PushEvent, Status } from '../domain/types.js';
import type { FetchOutcome, Hook } from '../charm/context.js';
import { plannedFetches } from '../charm/docker-resource.js';
import { standingPodSpec, step } from '../charm/step.js';
import { initialState, type CharmState } from '../charm/state.js';
import type { ImageRef } from '../image/reference.js';
import type { TagPolicy } from '../policy/tag-policy.js';
import type { DesiredWorkload } from '../render/workload.js';
import type { Snapshot } from './snapshot.js';
import { selectPush } from './push-selection.js';

import type { Trigger } from '../domain/commands.js';

export type { Trigger } from '../domain/commands.js';

export interface Selection {
  hook: Hook;
  /** The push acted on; undefined for config changes and refreshes. */
  push?: PushEvent;
  /** A refresh's tag (the newest the policy allows), when the shell resolved one. */
  tag?: string;
  ignored: string[];
  /** Nothing in the trigger acts: the step only re-asserts the standing workload. */
  skip: boolean;
}

export interface PlanOptions {
  image: ImageRef;
  tagPolicy: TagPolicy;
  setStatus: boolean;
}

export function selectTrigger(trigger: Trigger, snapshot: Snapshot, options: PlanOptions): Selection {
  if (trigger.hook === 'config-changed') return { hook: trigger.hook, ignored: [], skip: false };
  if (!trigger.pushes) return { hook: trigger.hook, tag: trigger.tag, ignored: [], skip: false };
  const selection = selectPush(trigger.pushes, options.image, options.tagPolicy, snapshot.state?.resources['oci-image']);
  return { hook: trigger.hook, push: selection.chosen, ignored: selection.ignored, skip: !selection.chosen };
}

/** The resources the step will fetch (none when it skips). */
export function fetchesFor(selection: Selection, snapshot: Snapshot): string[] {
  return selection.skip ? [] : plannedFetches(snapshot.state ?? initialState(), selection.hook, snapshot.live);
}

export interface Planned {
  state: CharmState;
  desired: DesiredWorkload;
  status: Status;
  statusHistory: Status[];
  /** The flags at the fixpoint (responses show these; the state stores the lasting ones). */
  flags: string[];
  trace: string[];
}

/** The next state and its workload. A skipped trigger leaves the state and re-asserts the standing pod spec. */
export function planStep(
  trigger: Trigger,
  selection: Selection,
  snapshot: Snapshot,
  fetched: Record<string, FetchOutcome>,
  options: PlanOptions,
): Planned {
  if (selection.skip) {
    const state = snapshot.state ?? initialState();
    const spec = standingPodSpec(snapshot.state, snapshot.live);
    return {
      state,
      desired: spec ? { podSpec: spec, mysqlPassword: spec.mysql.password, registryCredentials: spec.credentials } : {},
      status: snapshot.state ? state.status : { state: 'maintenance', message: '' },
      statusHistory: [],
      flags: state.flags,
      trace: [],
    };
  }
  const result = step(snapshot.state, {
    hook: selection.hook,
    config: trigger.hook === 'config-changed' ? trigger.config : undefined,
    mysql: trigger.hook === 'config-changed' ? trigger.mysql : undefined,
    fetched,
    live: snapshot.live,
    setStatus: options.setStatus,
  });
  return {
    state: result.state,
    desired: result,
    status: result.status,
    statusHistory: result.statusHistory,
    flags: result.flagsAtFixpoint,
    trace: result.trace,
  };
}
