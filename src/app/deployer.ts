// The shell of one step, in the order a push travels: read the snapshot, select
// what acts (plan.ts), fetch what the layer asks for, plan the next state (pure),
// claim it and write the objects (apply.ts). A lost compare-and-swap recomputes
// the whole step from a fresh snapshot (the one retry helper, src/retry.ts).
import type { FetchOutcome } from '../charm/context.js';
import { initialState, type CharmState, type Outcome, type OutcomeRecord } from '../charm/state.js';
import type { KubeObject, Status } from '../domain/types.js';
import { BogusEventError, ConflictError, FetchError, TargetError } from '../errors.js';
import type { ImageRef } from '../image/reference.js';
import type { Logger } from '../log.js';
import { refreshTag, type TagPolicy } from '../policy/tag-policy.js';
import { workloadNames } from '../render/names.js';
import { POD_DEFAULTS, renderWorkload, type PodOptions } from '../render/workload.js';
import type { ResourceFetcher } from '../resource/port.js';
import { GiveUp, withRetry, type Failure } from '../retry.js';
import type { CallOptions, Target } from '../targets/port.js';
import { claimAndWrite, type Change } from './apply.js';
import { fetchesFor, planStep, quarantined, selectTrigger, standingControl, type Planned, type Selection, type Trigger } from './plan.js';
import { changeCauseOf, describeTrigger, followRollout, providerOf, verdictReason, type Announcer } from './rollout-step.js';
import { flag } from '../charm/context.js';
import type { RolloutObserver } from '../rollout/port.js';
import { mergeRecent, outcomeRecord } from './recent.js';
import { objectKey, readSnapshot, type Snapshot } from './snapshot.js';
import { renderStateObject } from './state-store.js';
import { readStatus, resourcesView, rolloutView, type ResourcesView, type RolloutView, type StatusView } from './view.js';

export type { Trigger } from './plan.js';
export type { Change } from './apply.js';
export type { StatusView } from './view.js';

export interface DeployerDeps {
  app: string;
  namespace: string;
  image: ImageRef;
  tagPolicy: TagPolicy;
  setStatus: boolean;
  target: Target;
  fetcher: ResourceFetcher;
  logger: Logger;
  /** The pod's user and resources (settings.pod); the render's defaults otherwise. */
  pod?: Partial<PodOptions>;
  /** Steps recomputed after lost compare-and-swaps, the first included (default 30). */
  maxAttempts?: number;
  now?: () => Date;
  /** Follows rollouts (Kubernetes); without one, a rollout completes at once (the directory target). */
  observer?: RolloutObserver;
  /** KFM_REVERT: a failed rollout re-applies the last Available spec (default true). */
  revert?: boolean;
  /** Where each stored step is told: Kubernetes Events, and the Notifier for verdicts (best effort). */
  announcer?: Announcer;
}

export interface RunOptions {
  /** The event's id (intake's answer); one is made up for direct calls. */
  id?: string;
  /** What the event was, for the audit trail. */
  trigger?: string;
  /** Milliseconds left in the invocation: recomputations stop while there is time to answer. */
  deadline?: () => number;
}

export interface StepReport {
  id: string;
  outcome: Outcome;
  /** Why it was ignored or failed. */
  reason?: string;
  status: Status;
  statusHistory: Status[];
  flags: string[];
  resources: ResourcesView;
  /** Why a resource could not be fetched (the `blocked` reason). */
  failures: Record<string, string>;
  changes: Change[];
  ignored: string[];
  /** True when the trigger itself was not acted on. */
  skipped: boolean;
  /** The rollout as /status shows it. */
  rollout?: RolloutView;
  /** The rollout still runs at the deadline: its id, for a check by a later invocation. */
  checkLater?: string;
}

const uidOf = (object: KubeObject | undefined): string | undefined =>
  typeof object?.metadata.uid === 'string' ? object.metadata.uid : undefined;

/** Time kept back from the deadline to answer after the last conflict. */
const ANSWER_MARGIN_MS = 1000;

export function createDeployer(deps: DeployerDeps) {
  const names = workloadNames(deps.app);
  const now = deps.now ?? (() => new Date());
  const planOptions = { image: deps.image, tagPolicy: deps.tagPolicy, setStatus: deps.setStatus, verify: deps.observer !== undefined, revert: deps.revert !== false };
  // Checks stop when the controller should long have given up (ProgressDeadlineExceeded); the refresh still looks.
  const checkWindowMs = 2 * (deps.pod?.progressDeadlineSeconds ?? POD_DEFAULTS.progressDeadlineSeconds) * 1000 + 600_000;
  /** Outcomes of steps that wrote nothing: stored with the next write that happens anyway. */
  let held: OutcomeRecord[] = [];
  let sequence = 0;

  const render = (planned: Planned) => (generation: number) =>
    renderWorkload(planned.desired, { app: deps.app, namespace: deps.namespace, names, image: deps.image, generation, pod: deps.pod, changeCause: planned.state.rollout?.cause });
  const stateObject = (state: CharmState) => renderStateObject(state, { app: deps.app, namespace: deps.namespace, name: names.state });

  /** Fetches of one event, shared by its recomputed attempts (never across events). */
  type FetchCache = Map<string, Promise<FetchOutcome | BogusEventError>>;

  function fetchOnce(cache: FetchCache, name: string, selection: Selection, snapshot: Snapshot) {
    const { push } = selection;
    const deployedTag = snapshot.state?.resources[name]?.tag;
    // A pin by digest names no tag: none is made up for it.
    const tag = push?.tag ?? selection.tag ?? (selection.digest !== undefined ? undefined : deployedTag ?? deps.image.tag);
    const request = { image: deps.image, tag, digest: push?.digest ?? selection.digest, pushedAt: push?.pushedAt };
    const key = JSON.stringify([name, request.tag, request.digest]);
    let outcome = cache.get(key);
    if (!outcome) {
      outcome = deps.fetcher.fetch(request).then(
        (info): FetchOutcome => ({ ok: true, info }),
        (error: unknown) => {
          if (error instanceof BogusEventError) return error;
          if (!(error instanceof FetchError)) throw error;
          deps.logger.warn('resource fetch failed', { resource: name, reason: error.message });
          return { ok: false, reason: error.message, transient: error.transient } satisfies FetchOutcome;
        },
      );
      cache.set(key, outcome);
    }
    return outcome;
  }

  /** What the attempts of one event share: its fetches, and whether one of them claimed already. */
  interface Progress {
    /** The event's id: recorded with a rollout it starts. */
    id: string;
    /** The invocation's deadline, passed to every read and write of the target. */
    call: CallOptions;
    cache: FetchCache;
    claimed: boolean;
    tags?: Promise<string[]>;
  }

  /** A refresh under a semver or regex policy deploys the newest allowed tag: the registry is asked once per event. */
  async function refreshTrigger(trigger: Trigger, snapshot: Snapshot, progress: Progress): Promise<Trigger> {
    if (trigger.hook !== 'upgrade-charm' || trigger.pushes || deps.tagPolicy.kind === 'track' || !deps.fetcher.listTags) return trigger;
    const { pin, suspended } = standingControl(trigger, snapshot.state);
    if (pin || suspended) return trigger; // the pin, or the deployed digest: no tag to choose
    progress.tags ??= deps.fetcher.listTags(deps.image).catch((error: unknown) => {
      if (!(error instanceof FetchError)) throw error;
      deps.logger.warn('tag listing failed: refreshing the deployed tag', { reason: error.message });
      return [];
    });
    return { ...trigger, tag: refreshTag(deps.tagPolicy, await progress.tags, snapshot.state?.resources['oci-image']?.tag) };
  }

  async function attempt(given: Trigger, record: (outcome: Outcome, reason?: string) => OutcomeRecord, progress: Progress) {
    const { cache, call } = progress;
    const snapshot = await readSnapshot(deps.target, names, deps.image.registry, call);
    const trigger = await refreshTrigger(given, snapshot, progress);
    let selection = selectTrigger(trigger, snapshot, planOptions);
    const fetched: Record<string, FetchOutcome> = {};
    for (const name of fetchesFor(selection, snapshot)) {
      const outcome = await fetchOnce(cache, name, selection, snapshot);
      if (outcome instanceof BogusEventError) {
        selection = { ...selection, ignored: [...selection.ignored, outcome.message], skip: true };
        break;
      }
      fetched[name] = outcome;
    }
    const refused = quarantined(selection, snapshot.state, fetched);
    if (refused) selection = { ...selection, ignored: [...selection.ignored, refused], skip: true };
    const planned = planStep(trigger, selection, snapshot, fetched, planOptions, {
      now: now().toISOString(), eventId: progress.id, cause: changeCauseOf(trigger, selection, snapshot.state, fetched, progress.id),
    });
    // A transient fetch failure fails the event, so the queue delivers it again; a permanent one is recorded.
    const failures = Object.values(fetched).flatMap((outcome) => (outcome.ok ? [] : [outcome]));
    const outcome: Outcome = selection.skip ? 'ignored' : failures.some((failure) => failure.transient !== false) ? 'failed' : 'applied';
    const reason = selection.skip ? selection.ignored.join('; ') || 'nothing to do'
      : failures.map((failure) => failure.reason).join('; ') || (selection.verdict ? verdictReason(planned.state) : undefined);
    // Once an earlier attempt of this event claimed, its record is stored: a recomputation only repairs.
    const mine = progress.claimed ? [] : [record(outcome, reason)];
    const applied = await claimAndWrite(deps.target, {
      snapshot, state: planned.state, render: render(planned), stateObject, records: [...held, ...mine],
      onClaimed: () => { progress.claimed = true; },
      call,
    });
    return { planned, selection, outcome, reason, applied, records: mine, before: snapshot.state, uid: uidOf(snapshot.objects.get(objectKey('Deployment', names.deployment))) };
  }

  const classify = (error: unknown): Failure =>
    error instanceof ConflictError ? { retry: true, label: 'conflicting writes' } : { retry: false, error: error as Error };

  /** One step, recomputed after lost compare-and-swaps; announced once stored. */
  async function runStep(trigger: Trigger, id: string, description: string, options: RunOptions) {
    const record = (outcome: Outcome, reason?: string) => outcomeRecord(id, description, outcome, reason, now());
    const progress: Progress = { id, call: { deadline: options.deadline }, cache: new Map(), claimed: false };
    let result: Awaited<ReturnType<typeof attempt>>;
    try {
      result = await withRetry(() => attempt(trigger, record, progress), (error) => {
        if (error instanceof ConflictError) deps.logger.info('write conflict: recomputing the step', { id });
        return classify(error);
      }, { attempts: deps.maxAttempts ?? 30, baseDelayMs: 50, maxDelayMs: 2000, marginMs: ANSWER_MARGIN_MS, deadline: options.deadline });
    } catch (error) {
      if (error instanceof GiveUp) {
        throw new TargetError(error.attempts === 0 ? 'out of time before the step could run' : `gave up after ${error.attempts} conflicting writes${error.outOfTime ? ': out of time' : ''}`, 409);
      }
      throw error;
    }
    if (result.applied.claimed !== undefined) held = [];
    else held = mergeRecent(held, result.records);
    if (result.applied.claimed !== undefined && deps.announcer) {
      await deps.announcer.announce(result.before, result.planned.state, { provider: providerOf(trigger), eventId: id }, result.uid, options.deadline);
    }
    return result;
  }

  async function run(trigger: Trigger, options: RunOptions = {}): Promise<StepReport> {
    const id = options.id ?? `direct-${process.pid}-${(sequence += 1)}`;
    const description = options.trigger ?? describeTrigger(trigger);
    const steps = [await runStep(trigger, id, description, options)];
    const first = steps[0]!;
    let checkLater: string | undefined;
    // Follow the rollout this step left standing (a revert starts one more): at most a verdict and its revert's.
    for (let looks = 0; deps.observer && !first.selection.stale && looks < 3; looks++) {
      const { state } = steps.at(-1)!.planned;
      if (!state.rollout || !state.flags.includes(flag.rollingOut)) break;
      const { rollout } = state;
      const observed = await followRollout(deps.observer, rollout.since, options.deadline, deps.logger);
      if (observed.state === 'progressing') {
        // Out of time: a later invocation looks again, while the controller may still decide it.
        if (observed.outOfTime && now().getTime() - Date.parse(rollout.since) < checkWindowMs) checkLater = rollout.id;
        break;
      }
      const verdict = { state: observed.state, ...(observed.reason ? { reason: observed.reason } : {}) };
      steps.push(await runStep({ hook: 'update-status', check: rollout.id, verdict }, id, description, options));
    }
    const last = steps.at(-1)!;
    const { planned } = last;
    // The trigger's own selection: a push ignored stays ignored, whatever the rollout did after it.
    const { selection } = first;
    return {
      id,
      outcome: first.outcome === 'applied' ? last.outcome : first.outcome,
      reason: last.reason ?? first.reason,
      status: planned.status,
      statusHistory: steps.flatMap((step) => step.planned.statusHistory),
      flags: planned.flags,
      resources: resourcesView(planned.state.resources),
      failures: planned.state.failures,
      changes: steps.flatMap((step) => step.applied.changes),
      ignored: selection.ignored,
      skipped: selection.skip,
      rollout: rolloutView(planned.state),
      ...(checkLater ? { checkLater } : {}),
    };
  }

  /**
   * Stores an outcome decided outside a step (a poison message, a dead letter) at once: these must
   * survive the process. Only the audit trail changes, so the generation stays (no object is rewritten).
   */
  async function record(id: string, trigger: string, outcome: Outcome, reason: string | undefined, deadline?: () => number): Promise<void> {
    const records = [...held, outcomeRecord(id, trigger, outcome, reason, now())];
    await withRetry(async () => {
      const snapshot = await readSnapshot(deps.target, names, deps.image.registry, { deadline });
      const state = snapshot.state ?? initialState();
      const live = snapshot.objects.get(objectKey('ConfigMap', names.state));
      await deps.target.write(stateObject({ ...state, recent: mergeRecent(state.recent, records) }), live, { deadline });
    }, classify, { attempts: deps.maxAttempts ?? 30, baseDelayMs: 50, maxDelayMs: 2000, marginMs: ANSWER_MARGIN_MS, deadline });
    held = [];
  }

  /** GET /status: the stored state, without any secret, with the outcomes held since the last write. */
  async function status(deadline?: () => number): Promise<StatusView> {
    return readStatus(deps.target, names.state, held, deadline);
  }

  return { run, status, record, names };
}

export type Deployer = ReturnType<typeof createDeployer>;
