// The Kubernetes target: reads objects, creates the missing ones, and patches
// the others with a strategic merge patch conditioned on the resourceVersion
// they were computed from. Plain REST calls (see transport.ts): the four kinds
// need three verbs on two paths each, not client-node's generated API. Object
// bodies hold Secrets: they never go into errors or logs, only names and statuses.
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { KubeObject } from '../../domain/types.js';
import { ConflictError, TargetError } from '../../errors.js';
import { matchesDesired, strategicPatch } from '../compare.js';
import type { ObjectKey, Target, WriteOutcome } from '../port.js';
import {
  GiveUp, isRetryableCode, isRetryableStatus, parseRetryAfter, requestTimeout, withRetry, type Failure, type RetryOptions,
} from './retry.js';
import { send, type ApiRequest } from './transport.js';

export type { RetryOptions } from './retry.js';

export interface KubernetesTargetOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** Milliseconds left in the invocation (Lambda's getRemainingTimeInMillis); bounds retries and timeouts. */
  deadline?: () => number;
  retry?: RetryOptions;
}

type Op = 'read' | 'create' | 'patch';

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
  patch: 'application/strategic-merge-patch+json',
};
const METHOD: Record<Op, ApiRequest['method']> = { read: 'GET', create: 'POST', patch: 'PATCH' };

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

/** `<code> <reason>: <message>` from the API's Status body, when there is one. */
function statusMessage(code: number, body: string): string {
  try {
    const status = JSON.parse(body) as { reason?: unknown; message?: unknown } | null;
    const head = typeof status?.reason === 'string' && status.reason ? `${code} ${status.reason}` : `${code}`;
    return typeof status?.message === 'string' && status.message ? `${head}: ${status.message}` : head;
  } catch {
    return `${code}`;
  }
}

export function createKubernetesTarget(options: KubernetesTargetOptions): Target {
  const { kubeConfig, namespace, deadline } = options;
  const policy = { ...options.retry, deadline };
  const server = kubeConfig.getCurrentCluster()?.server ?? '';
  if (!server) throw new TargetError('kubeconfig has no current cluster');
  const timeout = () => requestTimeout(policy);

  /** One attempt: 2xx gives the body's text, anything else throws for classify(). */
  async function attempt(request: ApiRequest): Promise<string> {
    const response = await send(kubeConfig, server, request, timeout);
    if (response.status >= 200 && response.status <= 299) return response.text;
    throw new ApiStatusError(response.status, statusMessage(response.status, response.text), response.headers['retry-after']);
  }

  async function call(op: Op, kind: string, name: string, body?: string): Promise<KubeObject> {
    const where = KINDS[kind];
    const what = `${op} ${kind} ${namespace}/${name}`;
    if (!where) throw new TargetError(`${what} failed: unsupported kind`);
    const collection = `${where.prefix}/namespaces/${encodeURIComponent(namespace)}/${where.resource}`;
    const path = op === 'create' ? collection : `${collection}/${encodeURIComponent(name)}`;
    const request: ApiRequest = { method: METHOD[op], path, body, contentType: CONTENT_TYPE[op] };
    try {
      const object = JSON.parse(await withRetry(() => attempt(request), classify, policy)) as KubeObject;
      return { ...object, apiVersion: where.apiVersion, kind };
    } catch (error) {
      if (error instanceof GiveUp) throw new TargetError(`${what} failed: ${error.message}`, Number(error.label) || undefined);
      if (error instanceof ApiFailure) {
        if (error.status === 409 || (op === 'patch' && error.status === 404)) {
          throw new ConflictError(`${what}: ${error.message} (recompute from a fresh read)`);
        }
        throw new TargetError(`${what} failed: ${error.message}`, error.status);
      }
      throw new TargetError(`${what} failed: ${error instanceof SyntaxError ? 'malformed response' : (error as Error).message}`);
    }
  }

  return {
    description: `kubernetes:${server}`,

    async read({ kind, name }: ObjectKey): Promise<KubeObject | undefined> {
      try {
        return await call('read', kind, name);
      } catch (error) {
        if (error instanceof TargetError && error.statusCode === 404) return undefined;
        throw error;
      }
    },

    async write(desired: KubeObject, live: KubeObject | undefined): Promise<WriteOutcome> {
      const { kind, metadata } = desired;
      if (metadata.namespace !== undefined && metadata.namespace !== namespace) {
        throw new TargetError(`write ${kind} ${metadata.namespace}/${metadata.name} refused: the target's namespace is ${namespace}`);
      }
      if (!live) {
        const { resourceVersion: _unset, ...meta } = metadata;
        const body = JSON.stringify({ ...desired, metadata: { ...meta, namespace } });
        await call('create', kind, metadata.name, body);
        return 'created';
      }
      if (matchesDesired(desired, live)) return 'unchanged';
      const resourceVersion = live.metadata.resourceVersion;
      if (!resourceVersion) throw new TargetError(`patch ${kind} ${namespace}/${metadata.name} refused: live object has no resourceVersion`);
      const patch = strategicPatch(desired);
      patch.metadata = { ...(patch.metadata as object | undefined), resourceVersion };
      await call('patch', kind, metadata.name, JSON.stringify(patch));
      return 'patched';
    },
  };
}
