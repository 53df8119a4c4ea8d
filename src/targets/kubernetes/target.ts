// The Kubernetes target: reads objects, creates the missing ones (POST: "create
// only if still absent", so a racing creator is a 409), and server-side applies
// the others (field manager `kubeflow-metadata-deployer`, force) with the
// resourceVersion they were computed from as a precondition. What an apply
// owns and removes is explained in ../compare.ts. Plain REST calls (see
// transport.ts): the four kinds need three verbs on two paths each, not
// client-node's generated API. Object bodies hold Secrets: they never go into
// errors or logs, only names and statuses.
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { KubeObject } from '../../domain/types.js';
import { ConflictError, TargetError } from '../../errors.js';
import { FIELD_MANAGER, adoptionPatch, applyBody, handoverPatch, matchesDesired } from '../compare.js';
import type { CallOptions, ObjectKey, Target, WriteOutcome } from '../port.js';
import {
  GiveUp, isRetryableCode, isRetryableStatus, parseRetryAfter, requestTimeout, withRetry, type Failure, type RetryOptions,
} from './retry.js';
import { send, statusMessage, type ApiRequest } from './transport.js';

export type { RetryOptions } from './retry.js';

export interface KubernetesTargetOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** A default for calls that pass no deadline of their own (tests, scripts); steps pass theirs per call. */
  deadline?: () => number;
  retry?: RetryOptions;
}

/** `handover`, `adopt`: our create-time field ownership turned into the apply's (see handoverPatch, adoptionPatch). */
type Op = 'read' | 'create' | 'handover' | 'adopt' | 'apply';

/** Where each kind lives: `{prefix}/namespaces/{ns}/{resource}[/{name}]`. */
const KINDS: Record<string, { apiVersion: string; prefix: string; resource: string }> = {
  Deployment: { apiVersion: 'apps/v1', prefix: '/apis/apps/v1', resource: 'deployments' },
  Service: { apiVersion: 'v1', prefix: '/api/v1', resource: 'services' },
  Secret: { apiVersion: 'v1', prefix: '/api/v1', resource: 'secrets' },
  ConfigMap: { apiVersion: 'v1', prefix: '/api/v1', resource: 'configmaps' },
};

const CONTENT_TYPE: Record<Op, string | undefined> = {
  read: undefined,
  create: 'application/json',
  handover: 'application/json-patch+json',
  adopt: 'application/merge-patch+json',
  apply: 'application/apply-patch+yaml', // a JSON body is valid YAML
};
const METHOD: Record<Op, ApiRequest['method']> = { read: 'GET', create: 'POST', handover: 'PATCH', adopt: 'PATCH', apply: 'PATCH' };
const MANAGER = `fieldManager=${FIELD_MANAGER}`;
/** A create records its fields under our name too (adoptionPatch relies on it); only an apply may force. */
const QUERY: Record<Op, string> = { read: '', create: `?${MANAGER}`, handover: `?${MANAGER}`, adopt: `?${MANAGER}`, apply: `?${MANAGER}&force=true` };
const HANDOVER_ATTEMPTS = 3;
/** How errors name an operation: every write to an existing object is a PATCH request. */
const VERB: Record<Op, string> = { read: 'read', create: 'create', handover: 'patch', adopt: 'patch', apply: 'patch' };

/** A non-2xx answer; carries the Status message and Retry-After, never the body itself. */
class ApiStatusError extends Error {
  constructor(readonly status: number, message: string, readonly retryAfter?: string) {
    super(message);
  }
}

/** An API answer that is final (not retried). */
class ApiFailure extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function classify(error: unknown): Failure {
  if (error instanceof ApiStatusError) {
    const { status } = error;
    if (isRetryableStatus(status)) return { retry: true, label: String(status), retryAfterMs: parseRetryAfter(error.retryAfter) };
    return { retry: false, error: new ApiFailure(status, error.message) };
  }
  const code = (error as { code?: unknown } | undefined)?.code;
  if (isRetryableCode(code)) return { retry: true, label: code === 'ETIMEDOUT' ? 'timeout' : String(code) };
  // A JSON parse error quotes the text it failed on, which may be a Secret: never pass it on.
  const message = error instanceof SyntaxError ? 'malformed response' : error instanceof Error ? error.message : String(error);
  return { retry: false, error: new Error(message) };
}


export function createKubernetesTarget(options: KubernetesTargetOptions): Target {
  const { kubeConfig, namespace } = options;
  const server = kubeConfig.getCurrentCluster()?.server ?? '';
  if (!server) throw new TargetError('kubeconfig has no current cluster');
  /** The retry policy of one call: bounded by the deadline of the invocation that makes it. */
  const policyFor = (call: CallOptions) => ({ ...options.retry, deadline: call.deadline ?? options.deadline });

  /** One attempt: 2xx gives the answer, anything else throws for classify(). */
  async function attempt(request: ApiRequest, policy: ReturnType<typeof policyFor>): Promise<{ status: number; text: string }> {
    const response = await send(kubeConfig, server, request, () => requestTimeout(policy));
    if (response.status >= 200 && response.status <= 299) return response;
    throw new ApiStatusError(response.status, statusMessage(response.status, response.text), response.headers['retry-after']);
  }

  /** The object the API answered with, and whether this request created it (201). */
  async function call(op: Op, kind: string, name: string, body: string | undefined, options: CallOptions): Promise<{ object: KubeObject; created: boolean }> {
    const where = KINDS[kind];
    const what = `${VERB[op]} ${kind} ${namespace}/${name}`;
    if (!where) throw new TargetError(`${what} failed: unsupported kind`);
    const collection = `${where.prefix}/namespaces/${encodeURIComponent(namespace)}/${where.resource}`;
    const path = (op === 'create' ? collection : `${collection}/${encodeURIComponent(name)}`) + QUERY[op];
    const request: ApiRequest = { method: METHOD[op], path, body, contentType: CONTENT_TYPE[op] };
    try {
      const policy = policyFor(options);
      const response = await withRetry(() => attempt(request, policy), classify, policy);
      const object = JSON.parse(response.text) as KubeObject;
      return { object: { ...object, apiVersion: where.apiVersion, kind }, created: response.status === 201 };
    } catch (error) {
      if (error instanceof GiveUp) throw new TargetError(`${what} failed: ${error.message}`, Number(error.label) || undefined);
      if (error instanceof ApiFailure) {
        // 409: changed since read (or created meanwhile). A merge patch's 404: deleted since read. An
        // apply's 404 is the namespace (an apply creates a missing object): no recomputing fixes that.
        if (error.status === 409 || (op === 'adopt' && error.status === 404)) {
          throw new ConflictError(`${what}: ${error.message} (recompute from a fresh read)`);
        }
        throw new TargetError(`${what} failed: ${error.message}`, error.status);
      }
      throw new TargetError(`${what} failed: ${error instanceof SyntaxError ? 'malformed response' : (error as Error).message}`);
    }
  }

  /**
   * Turns the create's field ownership into the apply's (handoverPatch). Best effort: when it fails the
   * object still exists as desired, and the next write that changes it adopts those fields (adoptionPatch).
   */
  async function handOver(created: KubeObject, sent: KubeObject, options: CallOptions): Promise<void> {
    const { kind, metadata: { name } } = sent;
    let object: KubeObject = created;
    for (let attempt = 1; ; attempt += 1) {
      const patch = handoverPatch(object, sent);
      if (!patch) return;
      try {
        await call('handover', kind, name, JSON.stringify(patch), options);
        return;
      } catch (error) {
        if (!(error instanceof TargetError || error instanceof ConflictError)) throw error;
        // 422: the test op failed, as another writer (the controller updating the status) moved our entry
        // in the sorted list: compute it again from a fresh read.
        if (!(error instanceof TargetError && error.statusCode === 422) || attempt >= HANDOVER_ATTEMPTS) return;
      }
      try {
        object = (await call('read', kind, name, undefined, options)).object;
      } catch {
        return;
      }
    }
  }

  return {
    description: `kubernetes:${server}`,

    async read({ kind, name }: ObjectKey, options: CallOptions = {}): Promise<KubeObject | undefined> {
      try {
        return (await call('read', kind, name, undefined, options)).object;
      } catch (error) {
        if (error instanceof TargetError && error.statusCode === 404) return undefined;
        throw error;
      }
    },

    async write(desired: KubeObject, live: KubeObject | undefined, options: CallOptions = {}): Promise<WriteOutcome> {
      const { kind, metadata } = desired;
      if (metadata.namespace !== undefined && metadata.namespace !== namespace) {
        throw new TargetError(`write ${kind} ${metadata.namespace}/${metadata.name} refused: the target's namespace is ${namespace}`);
      }
      if (!live) {
        // Not an apply: an apply creates or updates, and the caller must learn of a racing creator (409).
        const sent = applyBody(desired, namespace);
        const { object } = await call('create', kind, metadata.name, JSON.stringify(sent), options);
        await handOver(object, sent, options);
        return 'created';
      }
      if (matchesDesired(desired, live)) return 'unchanged';
      let resourceVersion = live.metadata.resourceVersion;
      if (!resourceVersion) throw new TargetError(`patch ${kind} ${namespace}/${metadata.name} refused: live object has no resourceVersion`);
      const adoption = adoptionPatch(live);
      if (adoption) resourceVersion = (await call('adopt', kind, metadata.name, JSON.stringify(adoption), options)).object.metadata.resourceVersion;
      const { created } = await call('apply', kind, metadata.name, JSON.stringify(applyBody(desired, namespace, resourceVersion)), options);
      // An apply creates a missing object whatever its precondition says: it was deleted since it was read.
      if (created) throw new ConflictError(`patch ${kind} ${namespace}/${metadata.name}: deleted since it was read, created again (recompute from a fresh read)`);
      return 'patched';
    },
  };
}
