// One reactive step, pure: (state, inputs) → (state', status, pod spec).
// Like a Juju hook: inputs raise flags, the rules run to a fixpoint, and the
// transient flags (hook, *.changed) are cleared afterwards.
import { runToFixpoint } from '../reactive/engine.js';
import type { RegistryCredentials, Status } from '../domain/types.js';
import { flag, type PodSpec, type StepContext, type StepInputs } from './context.js';
import { dockerResourceRules } from './docker-resource.js';
import { charmRules, podSpecOf, registryCredentialsOf } from './metadata-charm.js';
import { rolloutRules } from './rollout.js';
import { CONFIG_DEFAULTS, initialState, type CharmState } from './state.js';
import { canonicalJson } from '../domain/canonical-json.js';

export interface StepResult {
  state: CharmState;
  status: Status;
  /** Every status set during the step, in order (maintenance messages included). */
  statusHistory: Status[];
  /** The rules that ran, in order. */
  trace: string[];
  /** The flags at the fixpoint, before the transient ones (hook, *.changed) were cleared. */
  flagsAtFixpoint: string[];
  /** Whether the charm (re)set the pod spec during this step. */
  podSpecSet: boolean;
  /**
   * The workload to converge to: the pod spec the charm set, standing for as
   * long as `charm.started` does (Juju keeps it; here it is re-asserted, and
   * the targets write only what differs).
   */
  podSpec?: PodSpec;
  /**
   * The MySQL relation's password as known after the step. Its Secret is the
   * relation's storage (Juju kept relation data itself), so it is written even
   * before the workload can start. Never reported.
   */
  mysqlPassword?: string;
  /**
   * The registry credentials as known after the step (fetched now, else those
   * in the live pull Secret). The pull Secret stores them as soon as they are
   * fetched, so a pod spec set by a later event never references a missing one.
   */
  registryCredentials?: RegistryCredentials;
}

// The rollout's rules before the charm's: a spec just set starts its rollout before `charm.ready` could call it active.
const RULES = [...dockerResourceRules, ...rolloutRules, ...charmRules];
const SEVERITY: Status['state'][] = ['blocked', 'waiting', 'active'];

function applyConfig(context: StepContext, firstStep: boolean): void {
  const previous = firstStep ? undefined : context.state.config;
  const next = { ...CONFIG_DEFAULTS, ...context.state.config, ...context.inputs.config };
  for (const key of Object.keys(next) as (keyof typeof next)[]) {
    if (previous?.[key] !== next[key]) {
      context.flags.add(flag.configChanged);
      context.flags.add(flag.configKeyChanged(key));
    }
  }
  context.state.config = next;
}

function applyMysql(context: StepContext): void {
  const { mysql } = context.inputs;
  const known = context.state.mysql;
  // By reference, the password lives in a Secret the deployer never reads: the relation stands on its data alone.
  const knownRef = known?.passwordSecretRef;
  if (mysql === null || (mysql === undefined && !knownRef && context.inputs.live.mysqlPassword === undefined)) {
    // Departed, or its Secret is gone: without a password the workload cannot start.
    if (context.flags.delete(flag.mysqlAvailable)) context.flags.add(flag.mysqlChanged);
    delete context.state.mysql;
    return;
  }
  if (mysql === undefined) {
    if (!knownRef) context.mysqlPassword = context.inputs.live.mysqlPassword;
    return;
  }
  const ref = mysql.passwordSecretRef;
  const passwordDiffers = ref
    ? knownRef?.name !== ref.name || knownRef.key !== ref.key
    : knownRef !== undefined || context.inputs.live.mysqlPassword !== mysql.password;
  const differs = known?.host !== mysql.host || known.port !== mysql.port || known.user !== mysql.user || passwordDiffers;
  if (differs) {
    context.flags.add(flag.mysqlChanged);
    context.state.mysqlRevision += 1;
  }
  context.state.mysql = { host: mysql.host, port: mysql.port, user: mysql.user, ...(ref ? { passwordSecretRef: { name: ref.name, key: ref.key } } : {}) };
  context.mysqlPassword = ref ? undefined : mysql.password;
  context.flags.add(flag.mysqlAvailable);
}

/** Blocked outranks waiting outranks active; maintenance only stands when nothing else was set. */
function finalStatus(statuses: Status[], previous: Status): Status {
  for (const state of SEVERITY) {
    const found = statuses.findLast((status) => status.state === state);
    if (found) return found;
  }
  return statuses.at(-1) ?? previous;
}

function isTransient(name: string): boolean {
  return name.startsWith('hook.') || name.startsWith('config.changed') || name.endsWith('.changed') || name.startsWith('workload.verdict.');
}

export function step(previous: CharmState | undefined, inputs: StepInputs): StepResult {
  const state = structuredClone(previous ?? initialState());
  const context: StepContext = { flags: new Set(state.flags), state, inputs, statuses: [], credentials: {} };
  context.flags.add(flag.hook(inputs.hook));
  if (inputs.rollout) context.flags.add(flag.verdict(inputs.rollout.state));
  applyConfig(context, previous === undefined);
  applyMysql(context);
  const trace = runToFixpoint(RULES, context);
  const flagsAtFixpoint = [...context.flags].sort();
  state.flags = [...context.flags].filter((name) => !isTransient(name)).sort();
  state.status = finalStatus(context.statuses, state.status);
  const { generation: _previous, ...before } = previous ?? initialState();
  const { generation: _current, ...after } = state;
  if (canonicalJson(before) !== canonicalJson(after) || previous === undefined) state.generation = (previous?.generation ?? 0) + 1;
  const podSpec = context.flags.has(flag.started) ? (context.podSpec ?? podSpecOf(context)) : undefined;
  return {
    state,
    status: state.status,
    statusHistory: context.statuses,
    trace,
    flagsAtFixpoint,
    podSpecSet: context.podSpec !== undefined,
    podSpec,
    mysqlPassword: context.flags.has(flag.mysqlAvailable) ? context.mysqlPassword : undefined,
    registryCredentials: registryCredentialsOf(context),
  };
}

/** The standing pod spec of a stored state (no rule runs): what an ignored event converges the workload to. */
export function standingPodSpec(state: CharmState | undefined, live: StepInputs['live']): PodSpec | undefined {
  if (!state?.flags.includes(flag.started)) return undefined;
  const inputs: StepInputs = { hook: 'config-changed', fetched: {}, live, setStatus: false };
  const byRef = state.mysql?.passwordSecretRef !== undefined;
  const context: StepContext = { flags: new Set(state.flags), state, inputs, statuses: [], credentials: {}, mysqlPassword: byRef ? undefined : live.mysqlPassword };
  return context.mysqlPassword === undefined && !byRef ? undefined : podSpecOf(context);
}
