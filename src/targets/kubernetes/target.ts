// The Kubernetes target: reads objects, creates the missing ones, and patches
// the others with a strategic merge patch conditioned on the resourceVersion
// they were computed from. Loaded lazily (client-node is heavy). Object bodies
// hold Secrets: they never go into errors or logs, only names and statuses.
import {
  ApiException, AppsV1Api, CoreV1Api, Observable, PatchStrategy, ServerConfiguration, createConfiguration,
  setHeaderOptions, type ConfigurationOptions, type HttpInfo, type KubeConfig, type RequestContext, type ResponseContext,
} from '@kubernetes/client-node';
import type { KubeObject } from '../../domain/types.js';
import { ConflictError, TargetError } from '../../errors.js';
import { matchesDesired, strategicPatch } from '../compare.js';
import type { ObjectKey, Target, WriteOutcome } from '../port.js';
import {
  GiveUp, isRetryableCode, isRetryableStatus, parseRetryAfter, requestTimeout, withRetry, type Failure, type RetryOptions,
} from './retry.js';
import { timedHttpLibrary } from './transport.js';

export type { RetryOptions } from './retry.js';

export interface KubernetesTargetOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** Milliseconds left in the invocation (Lambda's getRemainingTimeInMillis); bounds retries and timeouts. */
  deadline?: () => number;
  retry?: RetryOptions;
}

type Op = 'read' | 'create' | 'patch';
type Params = { name: string; namespace: string; body: unknown };
type Call = (params: Params, options: ConfigurationOptions | undefined) => Promise<HttpInfo<unknown>>;
type Kind = { apiVersion: string } & Record<Op, Call>;

/** An API answer that is final (not retried); carries the Status message, never a body. */
class ApiFailure extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

function kinds(core: CoreV1Api, apps: AppsV1Api): Record<string, Kind> {
  // client-node's typed bodies are only a compile-time view: the JSON sent is ours (see rawBody).
  const b = <T>(p: Params) => p.body as T;
  return {
    Deployment: {
      apiVersion: 'apps/v1',
      read: (p, o) => apps.readNamespacedDeploymentWithHttpInfo(p, o),
      create: (p, o) => apps.createNamespacedDeploymentWithHttpInfo({ namespace: p.namespace, body: b(p) }, o),
      patch: (p, o) => apps.patchNamespacedDeploymentWithHttpInfo({ ...p, body: b(p) }, o),
    },
    Service: {
      apiVersion: 'v1',
      read: (p, o) => core.readNamespacedServiceWithHttpInfo(p, o),
      create: (p, o) => core.createNamespacedServiceWithHttpInfo({ namespace: p.namespace, body: b(p) }, o),
      patch: (p, o) => core.patchNamespacedServiceWithHttpInfo({ ...p, body: b(p) }, o),
    },
    Secret: {
      apiVersion: 'v1',
      read: (p, o) => core.readNamespacedSecretWithHttpInfo(p, o),
      create: (p, o) => core.createNamespacedSecretWithHttpInfo({ namespace: p.namespace, body: b(p) }, o),
      patch: (p, o) => core.patchNamespacedSecretWithHttpInfo({ ...p, body: b(p) }, o),
    },
    ConfigMap: {
      apiVersion: 'v1',
      read: (p, o) => core.readNamespacedConfigMapWithHttpInfo(p, o),
      create: (p, o) => core.createNamespacedConfigMapWithHttpInfo({ namespace: p.namespace, body: b(p) }, o),
      patch: (p, o) => core.patchNamespacedConfigMapWithHttpInfo({ ...p, body: b(p) }, o),
    },
  };
}

/** Sends `json` verbatim: client-node's model serializer would drop fields its models do not know. */
function rawBody(json: string): ConfigurationOptions {
  const pre = (ctx: RequestContext) => {
    ctx.setBody(json);
    return new Observable(Promise.resolve(ctx));
  };
  const post = (res: ResponseContext) => new Observable(Promise.resolve(res));
  return { middleware: [{ pre, post }], middlewareMergeStrategy: 'append' };
}

function classify(error: unknown): Failure {
  if (error instanceof ApiException) {
    const status = error.code;
    const headers = (error.headers ?? {}) as Record<string, string>;
    if (isRetryableStatus(status)) return { retry: true, label: String(status), retryAfterMs: parseRetryAfter(headers['retry-after']) };
    return { retry: false, error: new ApiFailure(status, statusMessage(status, error.body)) };
  }
  const code = (error as { code?: unknown } | undefined)?.code;
  if (isRetryableCode(code)) return { retry: true, label: code === 'ETIMEDOUT' ? 'timeout' : String(code) };
  // A JSON parse error quotes the text it failed on, which may be a Secret: never pass it on.
  const message = error instanceof SyntaxError ? 'malformed response' : error instanceof Error ? error.message : String(error);
  return { retry: false, error: new Error(message) };
}

/** `<code> <reason>: <message>` from the API's Status body, when there is one. */
function statusMessage(code: number, body: unknown): string {
  try {
    const status = (typeof body === 'string' ? JSON.parse(body) : body) as { reason?: string; message?: string } | undefined;
    const head = status?.reason ? `${code} ${status.reason}` : `${code}`;
    return status?.message ? `${head}: ${status.message}` : head;
  } catch {
    return `${code}`;
  }
}

export function createKubernetesTarget(options: KubernetesTargetOptions): Target {
  const { kubeConfig, namespace, deadline } = options;
  const policy = { ...options.retry, deadline };
  const server = kubeConfig.getCurrentCluster()?.server;
  if (!server) throw new TargetError('kubeconfig has no current cluster');
  const config = createConfiguration({
    baseServer: new ServerConfiguration(server, {}),
    authMethods: { default: kubeConfig },
    httpApi: timedHttpLibrary(() => requestTimeout(policy)),
  });
  const table = kinds(new CoreV1Api(config), new AppsV1Api(config));

  async function call(op: Op, kind: string, name: string, body?: unknown, opts?: ConfigurationOptions): Promise<KubeObject> {
    const ops = table[kind];
    const what = `${op} ${kind} ${namespace}/${name}`;
    if (!ops) throw new TargetError(`${what} failed: unsupported kind`);
    try {
      const info = await withRetry(() => ops[op]({ name, namespace, body }, opts), classify, policy);
      const object = JSON.parse(await info.body.text()) as KubeObject;
      return { ...object, apiVersion: ops.apiVersion, kind };
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
        await call('create', kind, metadata.name, {}, rawBody(body));
        return 'created';
      }
      if (matchesDesired(desired, live)) return 'unchanged';
      const resourceVersion = live.metadata.resourceVersion;
      if (!resourceVersion) throw new TargetError(`patch ${kind} ${namespace}/${metadata.name} refused: live object has no resourceVersion`);
      const patch = strategicPatch(desired);
      patch.metadata = { ...(patch.metadata as object | undefined), resourceVersion };
      await call('patch', kind, metadata.name, patch, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch));
      return 'patched';
    },
  };
}
