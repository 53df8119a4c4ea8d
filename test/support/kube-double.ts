// A Kubernetes API server double. NOT used by the Kubernetes suites any more: they run on a real
// control plane (control-plane.ts; faults from fault-proxy.ts in front of it), which models what this
// never did (validation, defaulting, admission, RBAC, server-side apply, rollouts).
//
// Why it is still here: one remaining user, test/bundles.test.ts ("on the Kubernetes target (the
// double)"), which only needs *an* API server to prove the bundled handlers connect through a
// kubeconfig (and a proxy-url). Nothing about that needs the double: pointing it at
// startControlPlane()'s deployerKubeconfig (after applyDeployerRbac()) does the same job on a real
// server. Once that file is converted, delete this one. Do not add new users.
//
// What it models and does not model (for that last user):
// Models: namespaced core/v1 secrets, services, configmaps and apps/v1 deployments:
// GET (one or a list), POST, PUT, PATCH; strategic merge patch applied by
// Kubernetes' own code (`kubectl patch --local`, calls serialised); JSON merge
// patch (RFC 7386); one global resourceVersion counter and the 409 for a stale
// one; uid, creationTimestamp, generation; Secret stringData → data; a few
// defaults; bearer-token authentication (401); Status bodies as the API server sends them.
// Does NOT model: admission and validation, server-side apply (an apply patch is a 415),
// managedFields, DELETE, watch, RBAC, status subresources, controllers (no rollout),
// label selectors, dry-run, API discovery.
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { kubectlPath } from './control-plane.js';
import { watchSecrets, watchStore } from './leak-guard.js';

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
// Key order differs between kubectl's output and ours; and deep-equal helpers compare prototypes (jest realms).
const canonical = (v: unknown): string => JSON.stringify(v, (_k, x: unknown) =>
  isObj(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1))) : x);
const REASONS: Record<number, string> = {
  400: 'BadRequest', 401: 'Unauthorized', 403: 'Forbidden', 404: 'NotFound', 405: 'MethodNotAllowed', 409: 'Conflict',
  415: 'UnsupportedMediaType', 422: 'Invalid', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout',
};
type Answer = [number, unknown, Record<string, string>?];
const status = (code: number, message: string, details?: object, reason = REASONS[code] ?? 'InternalError'): Answer =>
  [code, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, details, code }];

/** RFC 7386 JSON merge patch. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isObj(patch)) return structuredClone(patch);
  const out: Obj = isObj(target) ? structuredClone(target) : {};
  for (const [k, v] of Object.entries(patch)) v === null ? delete out[k] : (out[k] = mergePatch(out[k], v));
  return out;
}

/** What the API server's decoding and defaulting do to a stored object (the subset modelled). */
function normalise(resource: string, input: Obj, previous?: Obj): Obj {
  const o = structuredClone(input);
  delete o.status; // status is a subresource: writes to the object never change it
  if (previous?.status !== undefined) o.status = structuredClone(previous.status);
  else if (resource === 'deployments') o.status = {};
  if (resource === 'secrets') {
    o.type ??= 'Opaque';
    if (isObj(o.stringData)) {
      const data: Obj = isObj(o.data) ? o.data : {};
      for (const [k, v] of Object.entries(o.stringData)) data[k] = Buffer.from(String(v)).toString('base64');
      o.data = data;
    }
    delete o.stringData;
  }
  const spec = isObj(o.spec) ? o.spec : undefined;
  if (resource === 'services' && spec) {
    spec.type ??= 'ClusterIP';
    spec.sessionAffinity ??= 'None';
    const before = isObj(previous?.spec) ? previous.spec.clusterIP : undefined;
    spec.clusterIP ??= before ?? `10.96.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250) + 2}`;
    for (const p of Array.isArray(spec.ports) ? spec.ports.filter(isObj) : []) {
      p.protocol ??= 'TCP';
      p.targetPort ??= p.port;
    }
  }
  const template = spec && isObj(spec.template) && isObj(spec.template.spec) ? spec.template.spec : undefined;
  if (resource === 'deployments' && spec) {
    spec.replicas ??= 1;
    spec.revisionHistoryLimit ??= 10;
    spec.progressDeadlineSeconds ??= 600;
    spec.strategy ??= { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%', maxSurge: '25%' } };
    for (const c of template && Array.isArray(template.containers) ? template.containers.filter(isObj) : []) {
      c.terminationMessagePath ??= '/dev/termination-log';
      c.terminationMessagePolicy ??= 'File';
      c.imagePullPolicy ??= String(c.image).endsWith(':latest') ? 'Always' : 'IfNotPresent';
      for (const p of Array.isArray(c.ports) ? c.ports.filter(isObj) : []) p.protocol ??= 'TCP';
    }
    if (template) template.restartPolicy ??= 'Always';
  }
  return o;
}

const run = promisify(execFile);
const ROUTE = /^\/(?:api\/v1|apis\/apps\/v1)\/namespaces\/([^/]+)\/(secrets|services|configmaps|deployments)(?:\/([^/]+))?$/;
const KINDS: Record<string, { kind: string; apiVersion: string }> = {
  secrets: { kind: 'Secret', apiVersion: 'v1' },
  services: { kind: 'Service', apiVersion: 'v1' },
  configmaps: { kind: 'ConfigMap', apiVersion: 'v1' },
  deployments: { kind: 'Deployment', apiVersion: 'apps/v1' },
};

export interface LoggedRequest { method: string; path: string; contentType?: string; body?: unknown }
/** An injected answer; `status` is usually 500/429/503, any code works (e.g. 403 to test non-retried failures). */
export interface Fault { status: number; count?: number; path?: RegExp; retryAfter?: number }

export interface KubeDouble {
  readonly url: string;
  readonly token: string;
  /** Kubeconfig YAML: cluster at `url` with skipTLSVerify (client-node refuses plain http otherwise), a token user. */
  kubeconfig(): string;
  failNext(fault: Fault): void;
  /** Holds the next `count` requests for `ms` before handling them (they are still handled, like a slow server). */
  delayNext(ms: number, count?: number): void;
  /** Drops faults and delays not used up (a give-up leaves some: clear them between tests). */
  clearFaults(): void;
  /** Stops listening and drops open connections: clients see connection refused. */
  refuse(): Promise<void>;
  resume(): Promise<void>;
  readonly requests: LoggedRequest[];
  /** TCP connections accepted so far (keep-alive makes one serve many requests). */
  connections(): number;
  objects(): Obj[];
  /** Stores an object as if someone else had written it (bumps resourceVersion, applies defaults). */
  put(object: Obj): Obj;
  stop(): Promise<void>;
}

export async function startKubeDouble(options: { kubectl?: string; token?: string } = {}): Promise<KubeDouble> {
  const kubectl = options.kubectl ?? kubectlPath(); // the kubectl the project builds, never the machine's
  const token = options.token ?? `double-${randomUUID()}`;
  const store = new Map<string, Obj>();
  const requests: LoggedRequest[] = [];
  const faults: Array<Required<Pick<Fault, 'status' | 'count'>> & Fault> = [];
  const delays: Array<{ ms: number; count: number }> = [];
  const timers = new Set<NodeJS.Timeout>();
  const dir = await mkdtemp(join(tmpdir(), 'kube-double-'));
  let [version, files, queue] = [100, 0, Promise.resolve() as Promise<unknown>];

  const commit = (resource: string, next: Obj, previous?: Obj): Obj => {
    const stored = normalise(resource, next, previous);
    const meta = stored.metadata as Obj;
    meta.resourceVersion = String(++version);
    if (previous) {
      const before = previous.metadata as Obj;
      Object.assign(meta, { uid: before.uid, creationTimestamp: before.creationTimestamp });
      if (resource === 'deployments') {
        const changed = canonical(previous.spec) !== canonical(stored.spec);
        meta.generation = Number(before.generation ?? 1) + (changed ? 1 : 0);
      }
    } else {
      Object.assign(meta, { uid: randomUUID(), creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z') });
      if (resource === 'deployments') meta.generation = 1;
    }
    store.set(`${resource}/${String(meta.namespace)}/${String(meta.name)}`, stored);
    return structuredClone(stored);
  };

  // Kubernetes' own strategic merge patch; one kubectl at a time keeps the double deterministic.
  const strategic = (live: Obj, patch: string): Promise<Obj> => {
    const task = queue.then(async () => {
      const [liveFile, patchFile] = [join(dir, `live-${++files}.json`), join(dir, `patch-${files}.json`)];
      await Promise.all([writeFile(liveFile, JSON.stringify(live)), writeFile(patchFile, patch)]);
      try {
        const args = ['patch', '--local', '-f', liveFile, '--type', 'strategic', '--patch-file', patchFile, '-o', 'json'];
        const { stdout } = await run(kubectl, args, { env: { ...process.env, KUBECONFIG: '/dev/null' } });
        return JSON.parse(stdout) as Obj;
      } finally {
        await Promise.all([rm(liveFile, { force: true }), rm(patchFile, { force: true })]);
      }
    });
    queue = task.catch(() => undefined);
    return task;
  };

  async function handle(req: IncomingMessage, body: string): Promise<Answer> {
    const url = new URL(req.url ?? '/', 'http://double');
    const contentType = req.headers['content-type']?.split(';')[0]?.trim();
    const parsed = ((): unknown => { try { return body ? JSON.parse(body) : undefined; } catch { return body; } })();
    requests.push({ method: req.method ?? '', path: url.pathname, contentType, body: parsed });

    const delay = delays[0];
    if (delay) {
      if (--delay.count <= 0) delays.shift();
      await new Promise<void>((resolve) => timers.add(setTimeout(resolve, delay.ms)));
    }
    const faultIndex = faults.findIndex((f) => !f.path || f.path.test(url.pathname));
    const fault = faults[faultIndex];
    if (fault) {
      if (--fault.count <= 0) faults.splice(faultIndex, 1);
      const [code, payload] = status(fault.status, `injected fault ${fault.status}`);
      return [code, payload, fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {}];
    }
    if (req.headers.authorization !== `Bearer ${token}`) return status(401, 'Unauthorized');

    const route = ROUTE.exec(url.pathname);
    const type = route ? KINDS[route[2] ?? ''] : undefined;
    if (!route || !type) return status(404, 'the server could not find the requested resource');
    const [, namespace = '', resource = '', name] = route;
    const current = store.get(`${resource}/${namespace}/${name ?? ''}`);
    const details = { name, kind: resource };
    const notFound = () => status(404, `${resource} "${name ?? ''}" not found`, details);

    if (req.method === 'GET') {
      if (!name) {
        const items = [...store.entries()].filter(([k]) => k.startsWith(`${resource}/${namespace}/`)).map(([, o]) => o);
        return [200, { kind: `${type.kind}List`, apiVersion: type.apiVersion, metadata: { resourceVersion: String(version) }, items }];
      }
      return current ? [200, current] : notFound();
    }
    if (!['POST', 'PUT', 'PATCH'].includes(req.method ?? '')) return status(405, `${req.method ?? ''} is not supported`);
    const obj = parsed as Obj | undefined;
    const meta = (isObj(obj) ? obj.metadata : undefined) as Obj | undefined;
    const patchTypes = ['application/strategic-merge-patch+json', 'application/merge-patch+json'];
    if (req.method === 'PATCH' ? !patchTypes.includes(contentType ?? '') : contentType !== undefined && !contentType.endsWith('json')) {
      return status(415, `the body of the request was in an unknown format - accepted media types include: ${patchTypes.join(', ')}`);
    }
    if (!isObj(obj)) return status(400, 'the body must be a JSON object');
    if (req.method !== 'PATCH') {
      if (obj?.kind !== type.kind || obj.apiVersion !== type.apiVersion) return status(400, `the body must be a ${type.apiVersion} ${type.kind}`);
      if (typeof meta?.name !== 'string' || meta.name === '') return status(422, `${type.kind} is invalid: metadata.name: Required value: name or generateName is required`, details);
      if (meta.namespace !== undefined && meta.namespace !== namespace) return status(400, 'the namespace of the provided object does not match the namespace sent on the request');
    }
    if (req.method === 'POST') {
      if (name) return status(405, 'POST is only allowed on a collection');
      const target = `${resource}/${namespace}/${String(meta?.name)}`;
      if (store.has(target)) return status(409, `${resource} "${String(meta?.name)}" already exists`, { ...details, name: meta?.name }, 'AlreadyExists');
      return [201, commit(resource, { ...obj, metadata: { ...meta, namespace, resourceVersion: undefined } })];
    }
    if (!name) return status(405, `${req.method ?? ''} is not allowed on a collection`);
    if (!current) return notFound();
    if (meta?.resourceVersion !== undefined && meta.resourceVersion !== (current.metadata as Obj).resourceVersion) {
      return status(409, `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`, details);
    }
    if (req.method === 'PUT') {
      if (meta?.name !== name) return status(400, 'the name of the object does not match the name on the URL');
      return [200, commit(resource, { ...obj, metadata: { ...meta, namespace } }, current)];
    }
    let patched: Obj;
    if (contentType === 'application/strategic-merge-patch+json') {
      try {
        patched = await strategic(current, body);
      } catch (error) {
        const message = String((error as { stderr?: string }).stderr ?? error).split('\n')[0] ?? 'patch failed';
        return status(422, message, details);
      }
    } else {
      patched = mergePatch(current, obj) as Obj;
    }
    if ((patched.metadata as Obj).name !== name || (patched.metadata as Obj).namespace !== namespace) return status(422, 'a patch cannot change metadata.name or metadata.namespace', details);
    // Compare-and-swap at commit, as etcd does: another write may have landed while kubectl ran.
    const latest = store.get(`${resource}/${namespace}/${name}`) as Obj | undefined;
    if (!latest || (latest.metadata as Obj).resourceVersion !== (current.metadata as Obj).resourceVersion) {
      return status(409, `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`, details);
    }
    return [200, commit(resource, patched, current)];
  }

  let connections = 0;
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      handle(req, Buffer.concat(chunks).toString('utf8'))
        .catch((error: unknown) => status(500, String(error)))
        .then(([code, payload, headers]) => {
          if (res.destroyed) return;
          res.writeHead(code, { 'content-type': 'application/json', ...headers });
          res.end(JSON.stringify(payload));
        });
    });
  });
  server.on('connection', () => void (connections += 1));
  const listen = (port: number) => new Promise<void>((resolve, reject) => {
    server.once('error', reject).listen(port, '127.0.0.1', () => (server.off('error', reject), resolve()));
  });
  const close = () => new Promise<void>((resolve) => (server.close(() => resolve()), server.closeAllConnections()));
  await listen(0);
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  watchSecrets(token);
  const unwatch = watchStore('the Kubernetes double\'s objects', async () =>
    JSON.stringify([...store.values()].filter((object) => object.kind !== 'Secret')));

  return {
    url,
    token,
    kubeconfig: () => `apiVersion: v1\nkind: Config\ncurrent-context: double
clusters: [{name: double, cluster: {server: "${url}", insecure-skip-tls-verify: true}}]
users: [{name: double, user: {token: "${token}"}}]
contexts: [{name: double, context: {cluster: double, user: double, namespace: kubeflow}}]\n`,
    failNext: (fault) => void faults.push({ ...fault, count: fault.count ?? 1 }),
    delayNext: (ms, count = 1) => void delays.push({ ms, count }),
    clearFaults: () => void (faults.splice(0), delays.splice(0)),
    refuse: () => (server.listening ? close() : Promise.resolve()),
    resume: () => (server.listening ? Promise.resolve() : listen(port)),
    requests,
    connections: () => connections,
    objects: () => [...store.values()].map((o) => structuredClone(o)),
    put: (object) => {
      const meta = object.metadata as Obj;
      const resource = Object.entries(KINDS).find(([, t]) => t.kind === object.kind)?.[0] ?? '';
      return commit(resource, object, store.get(`${resource}/${String(meta.namespace)}/${String(meta.name)}`));
    },
    stop: async () => {
      unwatch();
      for (const timer of timers) clearTimeout(timer);
      if (server.listening) await close();
      await queue;
      await rm(dir, { recursive: true, force: true });
    },
  };
}
