// The pure half of a step: which trigger acts, and (given what was fetched) the
// next state and the workload it stands for. No I/O: the shell reads the
// snapshot and fetches before, and claims and writes after.
import type { PushEvent, RolloutVerdict, Status } from '../domain/types.js';
import type { FetchOutcome, Hook } from '../charm/context.js';
import { plannedFetches } from '../charm/docker-resource.js';
import { standingPodSpec, step } from '../charm/step.js';
import { initialState, type CharmState } from '../charm/state.js';
import type { ImageRef } from '../image/reference.js';
import type { TagPolicy } from '../policy/tag-policy.js';
import type { DesiredWorkload } from '../render/workload.js';
import type { Snapshot } from './snapshot.js';
import { selectPush } from './push-selection.js';

import type { ControlRequest, Trigger } from '../domain/commands.js';

export type { Trigger } from '../domain/commands.js';

export interface Selection {
  hook: Hook;
  /** The push acted on; undefined for config changes and refreshes. */
  push?: PushEvent;
  /** What to fetch instead of a push: a refresh's tag (the newest the policy allows), a pin's tag or digest. */
  tag?: string;
  digest?: string;
  /** A pin names it: deployed even when quarantined or older. */
  explicit?: boolean;
  /** A control request: applied to the state by this step. */
  control?: ControlRequest;
  /** The update-status step's verdict on the standing rollout. */
  verdict?: RolloutVerdict;
  ignored: string[];
  /** Nothing in the trigger acts: the step only re-asserts the standing workload. */
  skip: boolean;
  /** A check for a rollout that is over: nothing is followed (the current rollout has its own checks). */
  stale?: boolean;
}

export interface PlanOptions {
  image: ImageRef;
  tagPolicy: TagPolicy;
  setStatus: boolean;
  /** The target follows rollouts (Kubernetes); else a rollout completes at once. */
  verify?: boolean;
  /** KFM_REVERT (default true). */
  revert?: boolean;
}

const describePin = (pin: { tag?: string; digest?: string }) => (pin.tag !== undefined ? `tag ${pin.tag}` : `digest ${pin.digest ?? '?'}`);
const skipped = (hook: Hook, reason: string): Selection => ({ hook, ignored: [reason], skip: true });

function selectStatusUpdate(trigger: Extract<Trigger, { hook: 'update-status' }>, state: CharmState | undefined): Selection {
  if (trigger.control) return { hook: trigger.hook, control: trigger.control, ignored: [], skip: false };
  if (trigger.verdict) return { hook: trigger.hook, verdict: trigger.verdict, ignored: [], skip: false };
  const rollout = state?.rollout;
  if (trigger.check !== undefined && (rollout?.id !== trigger.check || rollout.state !== 'progressing')) {
    return { ...skipped(trigger.hook, `rollout check for ${trigger.check}: that rollout is no longer in progress`), stale: true };
  }
  return { hook: trigger.hook, ignored: [], skip: true };
}

export function selectTrigger(trigger: Trigger, snapshot: Snapshot, options: PlanOptions): Selection {
  if (trigger.hook === 'config-changed') return { hook: trigger.hook, ignored: [], skip: false };
  const state = snapshot.state;
  if (trigger.hook === 'update-status') return selectStatusUpdate(trigger, state);
  const { control } = trigger;
  const selection = selectUpgrade(trigger, state, standingControl(trigger, state), options);
  return control ? { ...selection, control } : selection;
}

/** The pin and suspension a resource update acts under: the stored ones, as its own control request leaves them. */
export function standingControl(trigger: Extract<Trigger, { hook: 'upgrade-charm' }>, state: CharmState | undefined): CharmState['control'] {
  return applyControl(state ?? initialState(), trigger.control).control;
}

function selectUpgrade(trigger: Extract<Trigger, { hook: 'upgrade-charm' }>, state: CharmState | undefined, { pin, suspended }: CharmState['control'], options: PlanOptions): Selection {
  if (trigger.pushes) {
    if (suspended) return skipped(trigger.hook, 'automation is suspended (POST /control {"resume": true})');
    if (pin) return skipped(trigger.hook, `pinned to ${describePin(pin)} (POST /control {"unpin": true})`);
    const selection = selectPush(trigger.pushes, options.image, options.tagPolicy, state?.resources['oci-image']);
    return { hook: trigger.hook, push: selection.chosen, ignored: selection.ignored, skip: !selection.chosen };
  }
  // A pin (a request's own, or the stored one) is deployed as named; while suspended a refresh re-resolves
  // the deployed digest: credentials renew, the image stays; unpin and resume give the policy back at once.
  const deployed = state?.resources['oci-image'];
  if (pin) return { hook: trigger.hook, ...pin, explicit: true, ignored: [], skip: false };
  if (suspended && deployed) return { hook: trigger.hook, tag: deployed.tag, digest: deployed.digest, ignored: [], skip: false };
  return { hook: trigger.hook, tag: trigger.tag, ignored: [], skip: false };
}

/** The state as a control request leaves it (pure); the step then runs on it. */
export function applyControl(state: CharmState, control: ControlRequest | undefined): CharmState {
  if (!control) return state;
  const next = { ...state, control: { ...state.control }, quarantine: { ...state.quarantine } };
  if ('pin' in control) next.control.pin = { ...control.pin };
  else if ('unpin' in control) delete next.control.pin;
  else if ('suspend' in control) next.control.suspended = true;
  else if ('resume' in control) delete next.control.suspended;
  else delete next.quarantine[control.unquarantine];
  return next;
}

/** Why a fetched image is not deployed: quarantined, unless a pin names it. */
export function quarantined(selection: Selection, state: CharmState | undefined, fetched: Record<string, FetchOutcome>): string | undefined {
  const image = fetched['oci-image'];
  if (selection.hook !== 'upgrade-charm' || selection.explicit || !image?.ok) return undefined;
  const entry = state?.quarantine[image.info.digest];
  return entry ? `${image.info.digest} is quarantined: its rollout failed (${entry.reason}); POST /control {"unquarantine": "${image.info.digest}"} lifts it` : undefined;
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

/** What the step records with a rollout it starts. */
export interface StepFacts {
  now: string;
  eventId: string;
  /** The change-cause text (src/record/trigger.ts), when the shell knows one. */
  cause?: string;
}

/** The next state and its workload. A skipped trigger leaves the state and re-asserts the standing pod spec. */

export function planStep(
  trigger: Trigger,
  selection: Selection,
  snapshot: Snapshot,
  fetched: Record<string, FetchOutcome>,
  options: PlanOptions,
  facts: StepFacts = { now: new Date(0).toISOString(), eventId: 'unknown' },
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
  const previous = selection.control ? applyControl(snapshot.state ?? initialState(), selection.control) : snapshot.state;
  const result = step(previous, {
    hook: selection.hook,
    config: trigger.hook === 'config-changed' ? trigger.config : undefined,
    mysql: trigger.hook === 'config-changed' ? trigger.mysql : undefined,
    fetched,
    live: snapshot.live,
    setStatus: options.setStatus,
    rollout: selection.verdict,
    verify: options.verify === true,
    revert: options.revert !== false,
    ...facts,
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
