// Follows a rollout by polling, through the Kubernetes target's own transport
// (plain HTTPS, one keep-alive agent per connection): GET the Deployment, then
// LIST its pods (and ReplicaSets) by the `app.kubernetes.io/name` label, and ask
// the pure verdict (verdict.ts), until it says complete or failed, or the time
// kept for this invocation is used up. Polling, not a watch: a watch is one
// long request that must be torn down at the deadline and re-listed after any
// gap anyway; three small GETs every couple of seconds are cheap and leave
// nothing open. Between polls there is one timer, cleared on every exit; each
// request has the transport's own timeout, bounded by the time left; the
// agent's idle sockets are unref'd by Node, so nothing holds the function (or a
// test) open after the verdict.
//
// A transient failure (429, 5xx, a timeout, a dropped connection) is just a poll
// that saw nothing: the next one tries again. A final one (401, 403 because
// deploy/rbac.yaml lacks a verb, 404 because the Deployment is gone, an answer
// that does not parse) throws a TargetError naming the request, never a body.
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type * as z from 'zod/mini';
import { TargetError } from '../errors.js';
import { isRetryableCode, isRetryableStatus } from '../targets/kubernetes/retry.js';
import { send as realSend, type ApiRequest, statusMessage } from '../targets/kubernetes/transport.js';
import { configureZod } from '../validation.js';
import { deploymentSchema, listSchema, podSchema, replicaSetSchema } from './objects.js';
import { rolloutVerdict, type RolloutObservation, type Verdict, type VerdictOptions } from './verdict.js';

export interface RolloutWatchOptions extends VerdictOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** KFM_APP: the pods' `app.kubernetes.io/name` label, and the Deployment's name unless `deployment` is given. */
  app: string;
  deployment?: string;
  /** Milliseconds left in the invocation (Lambda's getRemainingTimeInMillis). */
  deadline: () => number;
  /** Kept back from `deadline()` to store the state and record the outcome afterwards (default 5000). */
  marginMs?: number;
  /** Pause between polls (default 2000). */
  intervalMs?: number;
  /** Per-request timeout (default 5000), shortened to the time left. */
  requestTimeoutMs?: number;
  /** LIST ReplicaSets to tell new pods by pod-template-hash (default true; needs `list replicasets`). */
  replicaSets?: boolean;
  /** Stops the watch between polls (the result is then `progressing`, outOfTime false). */
  signal?: AbortSignal;
  /** Each poll's verdict, for logs and metrics. */
  onPoll?: (verdict: Verdict) => void;
  /** The transport (tests may wrap it). */
  send?: typeof realSend;
}

export interface RolloutWatchResult extends Verdict {
  /** The time ran out before a verdict: a later invocation must look again (false when `signal` stopped it). */
  outOfTime: boolean;
  polls: number;
  elapsedMs: number;
  /** From the last Deployment read: for Events' `regarding` and for telling a stale check from a current one. */
  uid?: string;
  generation?: number;
  observedGeneration?: number;
}

/** Below this there is no time for a useful poll (three requests on a loaded API server). */
const MIN_POLL_MS = 500;

class Transient extends Error {}

export async function watchRollout(options: RolloutWatchOptions): Promise<RolloutWatchResult> {
  const started = Date.now();
  const send = options.send ?? realSend;
  const server = options.kubeConfig.getCurrentCluster()?.server ?? '';
  if (!server) throw new TargetError('kubeconfig has no current cluster');
  const { namespace, app, signal } = options;
  const name = options.deployment ?? app;
  const margin = options.marginMs ?? 5000;
  const interval = options.intervalMs ?? 2000;
  const left = () => options.deadline() - margin;
  const timeout = () => Math.max(1, Math.min(options.requestTimeoutMs ?? 5000, left()));
  const ns = encodeURIComponent(namespace);
  const selector = `?labelSelector=${encodeURIComponent(`app.kubernetes.io/name=${app}`)}`;

  async function get<S extends z.ZodMiniType>(what: string, path: string, schema: S): Promise<z.output<S>> {
    const request: ApiRequest = { method: 'GET', path };
    let response;
    try {
      response = await send(options.kubeConfig, server, request, timeout);
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (isRetryableCode(code)) throw new Transient(`${what}: ${String(code)}`);
      throw new TargetError(`${what} failed: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (isRetryableStatus(response.status)) throw new Transient(`${what}: ${response.status}`);
    if (response.status !== 200) throw new TargetError(`${what} failed: ${statusMessage(response.status, response.text)}`, response.status);
    let body: unknown;
    try {
      body = JSON.parse(response.text);
    } catch {
      throw new TargetError(`${what} failed: malformed response`); // never quote it: a pod list holds env values
    }
    configureZod();
    const parsed = schema.safeParse(body);
    if (!parsed.success) throw new TargetError(`${what} failed: unexpected answer at ${parsed.error.issues[0]?.path.join('.') || 'top level'}`);
    return parsed.data;
  }

  async function observe(): Promise<RolloutObservation> {
    const deployment = await get(`get Deployment ${namespace}/${name}`,
      `/apis/apps/v1/namespaces/${ns}/deployments/${encodeURIComponent(name)}`, deploymentSchema());
    // After the Deployment: pods and ReplicaSets at least as new as the generation it reports.
    const [pods, replicaSets] = await Promise.all([
      get(`list pods ${namespace}`, `/api/v1/namespaces/${ns}/pods${selector}`, listSchema(podSchema())),
      options.replicaSets === false ? undefined
        : get(`list replicasets ${namespace}`, `/apis/apps/v1/namespaces/${ns}/replicasets${selector}`, listSchema(replicaSetSchema())),
    ]);
    return { deployment, pods: pods.items ?? [], replicaSets: replicaSets ? replicaSets.items ?? [] : undefined };
  }

  let polls = 0;
  let verdict: Verdict = { state: 'progressing', reason: 'not observed yet' };
  let seen: Pick<RolloutWatchResult, 'uid' | 'generation' | 'observedGeneration'> = {};
  const result = (outOfTime: boolean): RolloutWatchResult => ({ ...verdict, outOfTime, polls, elapsedMs: Date.now() - started, ...seen });

  while (!signal?.aborted && left() >= MIN_POLL_MS) {
    try {
      const observation = await observe();
      const { metadata, status } = observation.deployment;
      seen = { uid: metadata.uid, generation: metadata.generation, observedGeneration: status?.observedGeneration };
      verdict = rolloutVerdict(observation, options);
    } catch (error) {
      if (!(error instanceof Transient)) throw error;
      verdict = { state: 'progressing', reason: `API not answering (${error.message})` };
    }
    polls++;
    options.onPoll?.(verdict);
    if (verdict.state !== 'progressing') return result(false);
    const rest = left() - MIN_POLL_MS;
    if (rest <= 0) break;
    await sleep(Math.min(interval, rest), signal);
  }
  return result(!signal?.aborted);
}


/** Resolves after `ms`, or at once when `signal` aborts; its timer never outlives it. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
