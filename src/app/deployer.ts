// The imperative shell of one event: read a snapshot, fetch what the layer
// asks for, run the pure step, write Secrets → Service → Deployment → state.
// A 409 anywhere recomputes the whole step from a fresh snapshot.
import type { CharmConfig, KubeObject, MysqlRelation, PushEvent, Status } from '../domain/types.js';
import { ConflictError, FetchError, TargetError } from '../errors.js';
import type { ImageRef } from '../image/reference.js';
import type { TagPolicy } from '../policy/tag-policy.js';
import type { Logger } from '../log.js';
import type { ResourceFetcher } from '../resource/port.js';
import type { Target, WriteOutcome } from '../targets/port.js';
import type { FetchOutcome, Hook } from '../charm/context.js';
import { plannedFetches } from '../charm/docker-resource.js';
import { standingPodSpec, step } from '../charm/step.js';
import { CONFIG_DEFAULTS, initialState, type CharmState } from '../charm/state.js';
import { renderWorkload, type DesiredWorkload } from '../render/workload.js';
import { GENERATION_ANNOTATION, workloadNames } from '../render/names.js';
import { objectKey, readSnapshot, type Snapshot } from './snapshot.js';
import { renderStateObject } from './state-store.js';
import { selectPush } from './push-selection.js';

export interface DeployerDeps {
  app: string;
  namespace: string;
  image: ImageRef;
  tagPolicy: TagPolicy;
  setStatus: boolean;
  target: Target;
  fetcher: ResourceFetcher;
  logger: Logger;
  maxAttempts?: number;
  /** Milliseconds left in the invocation: conflict retries stop while there is time to answer. */
  deadline?: () => number;
}

/** Time kept back from the deadline to answer after the last conflict. */
const ANSWER_MARGIN_MS = 1000;

export type Trigger =
  /** A resource update: registry pushes, or (without `pushes`) the scheduled refresh of the deployed tag. */
  | { hook: 'upgrade-charm'; pushes?: PushEvent[] }
  | { hook: 'config-changed'; config?: Partial<CharmConfig>; mysql?: MysqlRelation | null };

export interface Change {
  kind: string;
  name: string;
  outcome: WriteOutcome;
}

export interface StepReport {
  status: Status;
  statusHistory: Status[];
  flags: string[];
  resources: Record<string, { registryPath: string; digest: string; tag?: string }>;
  /** Why a resource could not be fetched (the `blocked` reason). */
  failures: Record<string, string>;
  changes: Change[];
  ignored: string[];
  /** True when the push itself was not acted on (the HTTP answer is then 202). */
  skipped: boolean;
}

const generationOf = (object: KubeObject | undefined): number => Number(object?.metadata.annotations?.[GENERATION_ANNOTATION] ?? 0);

/**
 * Writes the objects in order, each against the live version it was computed
 * from. An object stamped by a newer state generation means this snapshot is
 * stale: recompute (the resourceVersion makes the check atomic with the write).
 */
async function writeAll(target: Target, objects: KubeObject[], snapshot: Snapshot): Promise<Change[]> {
  const changes: Change[] = [];
  for (const object of objects) {
    const live = snapshot.objects.get(objectKey(object.kind, object.metadata.name));
    const stamped = object.metadata.annotations?.[GENERATION_ANNOTATION] !== undefined;
    if (stamped && generationOf(live) > generationOf(object)) {
      throw new ConflictError(`${object.kind} ${object.metadata.name} was written by a newer step`);
    }
    const outcome = await target.write(object, live);
    changes.push({ kind: object.kind, name: object.metadata.name, outcome });
  }
  return changes;
}

export function createDeployer(deps: DeployerDeps) {
  const names = workloadNames(deps.app);
  const render = (desired: DesiredWorkload, generation: number) =>
    renderWorkload(desired, { app: deps.app, namespace: deps.namespace, names, image: deps.image, generation });
  /** Fetches of one event, shared by its recomputed attempts (never across events). */
  type FetchCache = Map<string, Promise<FetchOutcome>>;

  function fetchOnce(fetchCache: FetchCache, name: string, push: PushEvent | undefined, snapshot: Snapshot): Promise<FetchOutcome> {
    const deployedTag = snapshot.state?.resources[name]?.tag;
    const request = { image: deps.image, tag: push?.tag ?? deployedTag ?? deps.image.tag, digest: push?.digest, pushedAt: push?.pushedAt };
    const key = JSON.stringify([name, request.tag, request.digest]);
    let outcome = fetchCache.get(key);
    if (!outcome) {
      outcome = deps.fetcher.fetch(request).then(
        (info): FetchOutcome => ({ ok: true, info }),
        (error: unknown): FetchOutcome => {
          if (!(error instanceof FetchError)) throw error;
          deps.logger.warn('resource fetch failed', { resource: name, reason: error.message });
          return { ok: false, reason: error.message };
        },
      );
      fetchCache.set(key, outcome);
    }
    return outcome;
  }

  async function attempt(trigger: Trigger, fetchCache: FetchCache): Promise<StepReport> {
    const snapshot = await readSnapshot(deps.target, names, deps.image.registry);
    const hook: Hook = trigger.hook;
    let push: PushEvent | undefined;
    const ignored: string[] = [];
    if (trigger.hook === 'upgrade-charm' && trigger.pushes) {
      const selection = selectPush(trigger.pushes, deps.image, deps.tagPolicy, snapshot.state?.resources['oci-image']);
      ignored.push(...selection.ignored);
      if (!selection.chosen) return converge(snapshot, ignored);
      push = selection.chosen;
    }
    const fetched: Record<string, FetchOutcome> = {};
    for (const name of plannedFetches(snapshot.state ?? initialState(), hook)) {
      fetched[name] = await fetchOnce(fetchCache, name, push, snapshot);
    }
    const result = step(snapshot.state, {
      hook,
      config: trigger.hook === 'config-changed' ? trigger.config : undefined,
      mysql: trigger.hook === 'config-changed' ? trigger.mysql : undefined,
      fetched,
      live: snapshot.live,
      setStatus: deps.setStatus,
    });
    const changes = await writeAll(deps.target, render(result, result.state.generation), snapshot);
    changes.push(...(await writeAll(deps.target, [stateObject(result.state)], snapshot)));
    return {
      status: result.status,
      statusHistory: result.statusHistory,
      flags: result.flagsAtFixpoint,
      resources: resourcesView(result.state.resources),
      failures: result.state.failures,
      changes,
      ignored,
      skipped: false,
    };
  }

  /** An ignored push still re-asserts the standing workload, so a lost race is repaired. */
  async function converge(snapshot: Snapshot, ignored: string[]): Promise<StepReport> {
    const state = snapshot.state;
    const spec = standingPodSpec(state, snapshot.live);
    const desired = spec ? { podSpec: spec, mysqlPassword: spec.mysql.password, registryCredentials: spec.credentials } : {};
    const changes = await writeAll(deps.target, render(desired, state?.generation ?? 0), snapshot);
    const { config: _config, ...stored } = storedView(state);
    // Before any step, an ignored push reports an empty maintenance message (the status route explains more).
    const status = state ? stored.status : { state: 'maintenance' as const, message: '' };
    return { ...stored, status, statusHistory: [], changes, ignored, skipped: true };
  }

  function stateObject(state: CharmState): KubeObject {
    return renderStateObject(state, { app: deps.app, namespace: deps.namespace, name: names.state });
  }

  async function run(trigger: Trigger): Promise<StepReport> {
    const maxAttempts = deps.maxAttempts ?? 30;
    const fetchCache: FetchCache = new Map();
    for (let attemptNumber = 1; ; attemptNumber += 1) {
      try {
        return await attempt(trigger, fetchCache);
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
        deps.logger.info('write conflict: recomputing the step', { attempt: attemptNumber });
        if (attemptNumber >= maxAttempts) throw new TargetError(`gave up after ${maxAttempts} conflicting writes`, 409);
        // Full jitter, so concurrent invocations that keep colliding spread out.
        const wait = Math.random() * Math.min(2000, 25 * 2 ** attemptNumber);
        if (deps.deadline && deps.deadline() - wait < ANSWER_MARGIN_MS) {
          throw new TargetError(`gave up after ${attemptNumber} conflicting writes: out of time`, 409);
        }
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  /** GET /status: the stored state, without any secret. */
  async function status(): Promise<StatusView> {
    return storedView((await readSnapshot(deps.target, names, deps.image.registry)).state);
  }

  return { run, status, names };
}

export interface StatusView {
  status: Status;
  flags: string[];
  resources: StepReport['resources'];
  failures: Record<string, string>;
  config: CharmConfig;
}

/** What the stored state says, without any secret (the status view, and an ignored event's report). */
function storedView(state: CharmState | undefined): StatusView {
  return {
    status: state?.status ?? { state: 'maintenance', message: 'no event handled yet' },
    flags: state?.flags ?? [],
    resources: resourcesView(state?.resources ?? {}),
    failures: state?.failures ?? {},
    config: state?.config ?? { ...CONFIG_DEFAULTS },
  };
}

function resourcesView(resources: CharmState['resources']) {
  return Object.fromEntries(
    Object.entries(resources).map(([name, info]) => [name, { registryPath: info.registryPath, digest: info.digest, tag: info.tag }]),
  );
}

export type Deployer = ReturnType<typeof createDeployer>;
