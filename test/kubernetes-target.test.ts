// The Kubernetes target (client-node's KubeConfig, plain REST) against the API
// server double (strategic merge patch applied by kubectl's own code,
// resourceVersion 409s, injected faults). Retries are fast here; their policy is
// what is tested. The TLS and credential options come from KubeConfig: checked
// on the options the transport hands to node:https.
import { Agent } from 'node:https';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { KubeObject } from '../src/domain/types.js';
import { ConflictError, TargetError } from '../src/errors.js';
import { createKubernetesTarget, type KubernetesTargetOptions } from '../src/targets/kubernetes/target.js';
import { requestOptions } from '../src/targets/kubernetes/transport.js';
import type { Target } from '../src/targets/port.js';
import { startKubeDouble, type KubeDouble } from './support/kube-double.js';

const NS = 'kubeflow';
const PASSWORD = 's3cr3t-Pa55w0rd';
const b64 = (text: string) => Buffer.from(text).toString('base64');

let double: KubeDouble;
let target: Target;
// A generous per-request timeout: a PATCH runs kubectl in the double, slow on a busy machine.
const fast = { baseDelayMs: 5, maxDelayMs: 40, timeoutMs: 5000 };
function targetFor(options: Partial<KubernetesTargetOptions> = {}, kubeconfig = double.kubeconfig()): Target {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(kubeconfig);
  return createKubernetesTarget({ kubeConfig, namespace: NS, retry: fast, ...options });
}

beforeAll(async () => {
  double = await startKubeDouble();
  target = targetFor();
});
afterEach(() => double.clearFaults());
afterAll(() => double.stop());

const deployment = (port: number, name = 'kubeflow-metadata'): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: NS, labels: { app: name } },
  spec: {
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: {
        imagePullSecrets: [{ name: 'kubeflow-metadata-registry' }],
        containers: [{
          name: 'metadata',
          image: `gcr.io/kubeflow-images-public/metadata@sha256:${'a'.repeat(64)}`,
          command: ['./server/server', `--http_port=${port}`, '--mysql_service_password=$(MYSQL_ROOT_PASSWORD)'],
          env: [{ name: 'MYSQL_ROOT_PASSWORD', valueFrom: { secretKeyRef: { name: 'kubeflow-metadata-mysql', key: 'password' } } }],
          ports: [{ name: 'http', containerPort: port }],
          readinessProbe: { httpGet: { path: '/api/v1alpha1/artifact_types', port: 'http' } },
        }],
      },
    },
  },
});
const service = (port: number): KubeObject => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name: 'kubeflow-metadata', namespace: NS },
  spec: { selector: { app: 'kubeflow-metadata' }, ports: [{ name: 'http', port, targetPort: 'http' }] },
});
const secret = (data: Record<string, string>, name = 'kubeflow-metadata-mysql'): KubeObject =>
  ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: NS }, type: 'Opaque', data });
const configMap = (state: string): KubeObject => ({
  apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kubeflow-metadata-deployer-state', namespace: NS }, data: { state },
});

const stored = (kind: string, name: string) => double.objects().find((o) => o.kind === kind && (o.metadata as any).name === name) as any;
const writesSince = (from: number) => double.requests.slice(from).filter((r) => r.method !== 'GET');
const key = (o: KubeObject) => ({ kind: o.kind, name: o.metadata.name });

const failure = (promise: Promise<unknown>) =>
  promise.then(() => { throw new Error('expected a failure'); }, (error: unknown) => error as TargetError);

/** Reads, writes, and reads back; returns the outcome and the object now live. */
async function apply(desired: KubeObject, t = target) {
  const outcome = await t.write(desired, await t.read(key(desired)));
  return { outcome, live: (await t.read(key(desired)))! };
}

test('creates each kind when absent; a second write of the same objects sends nothing', async () => {
  const all = [secret({ password: b64(PASSWORD) }), deployment(8080), service(8080), configMap('{"flags":[]}')];
  for (const desired of all) {
    expect(await target.read(key(desired))).toBeUndefined();
    const { outcome, live } = await apply(desired);
    expect(outcome).toBe('created');
    expect(live).toMatchObject({ apiVersion: desired.apiVersion, kind: desired.kind, metadata: { resourceVersion: expect.any(String) } });
  }
  const creates = double.requests.filter((r) => r.method === 'POST');
  expect(creates.map((r) => r.contentType)).toEqual(Array(4).fill('application/json'));
  expect(creates.map((r) => `${r.path}`)).toEqual(['secrets', 'deployments', 'services', 'configmaps']
    .map((resource) => `/${resource === 'deployments' ? 'apis/apps' : 'api'}/v1/namespaces/${NS}/${resource}`));
  expect(creates[1]?.body).toEqual(deployment(8080)); // sent verbatim, not through client-node's models

  const mark = double.requests.length;
  for (const desired of all) {
    const live = await target.read(key(desired));
    expect(await target.write(desired, live)).toBe('unchanged');
  }
  expect(writesSince(mark)).toEqual([]);
});

test('sequential requests share one kept-alive connection (client-node alone opened one per request)', async () => {
  const fresh = targetFor();
  const before = double.connections();
  for (let i = 0; i < 5; i += 1) await fresh.read({ kind: 'Service', name: 'kubeflow-metadata' });
  await fresh.write(deployment(8080, 'keep-alive-check'), undefined);
  expect(double.connections() - before).toBe(1);
});

test('Deployment port 8080 → 9090 leaves exactly one port, via a conditioned strategic merge patch', async () => {
  const before = await target.read({ kind: 'Deployment', name: 'kubeflow-metadata' });
  const mark = double.requests.length;
  const { outcome, live } = await apply(deployment(9090));
  expect(outcome).toBe('patched');
  const ports = (live as any).spec.template.spec.containers[0].ports;
  expect(ports).toEqual([{ name: 'http', containerPort: 9090, protocol: 'TCP' }]);
  expect(live.metadata.generation).toBe(2);
  const [patch] = writesSince(mark);
  expect(patch).toMatchObject({ method: 'PATCH', contentType: 'application/strategic-merge-patch+json' });
  expect((patch?.body as any).metadata.resourceVersion).toBe(before?.metadata.resourceVersion);
  expect(await target.write(deployment(9090), live)).toBe('unchanged');
});

test('Service port change leaves exactly one port; Secret key removal leaves only the desired keys', async () => {
  const { live } = await apply(service(9090));
  expect((live as any).spec.ports).toEqual([{ name: 'http', port: 9090, targetPort: 'http', protocol: 'TCP' }]);
  await apply(secret({ password: b64(PASSWORD), stale: b64('old') }));
  const { outcome, live: after } = await apply(secret({ password: b64(PASSWORD) }));
  expect(outcome).toBe('patched');
  expect(after.data).toEqual({ password: b64(PASSWORD) });
});

test('a write computed from a stale read is a ConflictError and changes nothing', async () => {
  const stale = (await target.read({ kind: 'Deployment', name: 'kubeflow-metadata' }))!;
  const theirs = structuredClone(stored('Deployment', 'kubeflow-metadata'));
  theirs.spec.replicas = 3; // someone else scales meanwhile
  double.put(theirs);
  const now = structuredClone(stored('Deployment', 'kubeflow-metadata'));
  await expect(target.write(deployment(7070), stale)).rejects.toBeInstanceOf(ConflictError);
  expect(stored('Deployment', 'kubeflow-metadata')).toEqual(now);
  // Created by someone else since our read said "absent": also a conflict.
  await expect(target.write(configMap('{}'), undefined)).rejects.toBeInstanceOf(ConflictError);
});

test('500 twice is retried and succeeds; 429 waits for Retry-After', async () => {
  double.failNext({ status: 500, count: 2, path: /deployments\/kubeflow-metadata$/ });
  const mark = double.requests.length;
  const { outcome } = await apply(deployment(8081));
  expect(outcome).toBe('patched');
  expect(double.requests.slice(mark).filter((r) => r.method === 'GET').length).toBe(4); // 2 failed reads, then read and read-back
  double.failNext({ status: 429, retryAfter: 1 });
  const started = Date.now();
  expect(await target.read({ kind: 'Service', name: 'kubeflow-metadata' })).toBeDefined();
  expect(Date.now() - started).toBeGreaterThanOrEqual(950);
});

test('persistent 503: TargetError naming the object and the status, nothing half-written, no secret', async () => {
  const live = await target.read({ kind: 'Secret', name: 'kubeflow-metadata-mysql' });
  const before = stored('Secret', 'kubeflow-metadata-mysql');
  double.failNext({ status: 503, count: 5 });
  const error = await failure(target.write(secret({ password: b64('n3w-' + PASSWORD) }), live));
  expect(error).toBeInstanceOf(TargetError);
  expect((error as TargetError).message).toBe('patch Secret kubeflow/kubeflow-metadata-mysql failed: 503 after 5 attempts');
  expect((error as TargetError).statusCode).toBe(503);
  expect(stored('Secret', 'kubeflow-metadata-mysql')).toEqual(before);
  double.failNext({ status: 503, count: 5 });
  await expect(target.write(secret({ password: b64(PASSWORD) }, 'never-written'), undefined)).rejects.toThrow(/^create Secret .* 503 after 5/);
  expect(stored('Secret', 'never-written')).toBeUndefined();
});

test('other 4xx fail at once with the API Status message, never the Secret', async () => {
  const mark = double.requests.length;
  double.failNext({ status: 403 });
  const forbidden = await failure(target.write(secret({ password: b64(PASSWORD) }, 'other'), undefined));
  expect(forbidden.message).toBe('create Secret kubeflow/other failed: 403 Forbidden: injected fault 403');
  expect(double.requests.length - mark).toBe(1);
  const invalid = await failure(target.write(secret({ password: b64(PASSWORD) }, ''), undefined));
  expect(invalid).toBeInstanceOf(TargetError);
  expect(invalid.message).toMatch(/^create Secret kubeflow\/ failed: 422 Invalid: Secret is invalid: metadata.name/);
  const unauthorized = targetFor({}, double.kubeconfig().replace(double.token, 'wrong-token'));
  await expect(unauthorized.read({ kind: 'Secret', name: 'other' })).rejects.toThrow(/failed: 401/);
  for (const e of [forbidden, invalid]) {
    const text = `${e.message} ${e.stack} ${JSON.stringify(e)} ${String(e.cause)}`;
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(b64(PASSWORD));
  }
});

test('a request slower than the timeout is retried; always slow, it is reported', async () => {
  const patient = targetFor({ retry: { ...fast, timeoutMs: 300 } });
  double.delayNext(1000, 1);
  expect(await patient.read({ kind: 'ConfigMap', name: 'kubeflow-metadata-deployer-state' })).toBeDefined();
  const impatient = targetFor({ retry: { ...fast, attempts: 2, timeoutMs: 150 } });
  double.delayNext(600, 2);
  await expect(impatient.read({ kind: 'ConfigMap', name: 'kubeflow-metadata-deployer-state' }))
    .rejects.toThrow('read ConfigMap kubeflow/kubeflow-metadata-deployer-state failed: timeout after 2 attempts');
});

test('retries stop when the time budget runs out, leaving the margin', async () => {
  const started = Date.now();
  const budgeted = targetFor({ deadline: () => 1500 - (Date.now() - started), retry: { ...fast, marginMs: 1000 } });
  double.failNext({ status: 429, retryAfter: 5 });
  await expect(budgeted.read({ kind: 'Service', name: 'kubeflow-metadata' })).rejects.toThrow(/failed: 429 after 1 attempt \(out of time\)/);
  expect(Date.now() - started).toBeLessThan(500);
});

test('connection refused: retried, then a TargetError', async () => {
  await double.refuse();
  try {
    await expect(target.read({ kind: 'Deployment', name: 'kubeflow-metadata' }))
      .rejects.toThrow('read Deployment kubeflow/kubeflow-metadata failed: ECONNREFUSED after 5 attempts');
  } finally {
    await double.resume();
  }
  expect(await target.read({ kind: 'Deployment', name: 'kubeflow-metadata' })).toBeDefined();
});

describe('request options from the kubeconfig', () => {
  const PEM = (what: string) => `-----BEGIN ${what}-----\nMIIB${what.length}\n-----END ${what}-----\n`;
  const kubeconfig = (user: string, cluster = `certificate-authority-data: ${b64(PEM('CERTIFICATE'))}`) => [
    'apiVersion: v1', 'kind: Config', 'current-context: c',
    `clusters: [{name: c, cluster: {server: "https://k.example:6443", ${cluster}}}]`,
    `users: [{name: u, user: {${user}}}]`, 'contexts: [{name: c, context: {cluster: c, user: u}}]',
  ].join('\n');
  const optionsFor = async (yaml: string) => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(yaml);
    return requestOptions(kubeConfig, { method: 'PATCH', contentType: 'application/strategic-merge-patch+json' });
  };

  test('a client certificate goes to the TLS options and the agent, with the cluster CA', async () => {
    const cert = PEM('CERTIFICATE'), key = PEM('PRIVATE KEY');
    const options = await optionsFor(kubeconfig(`client-certificate-data: ${b64(cert)}, client-key-data: ${b64(key)}`));
    expect(String(options.cert)).toBe(cert);
    expect(String(options.key)).toBe(key);
    expect(String(options.ca)).toBe(PEM('CERTIFICATE'));
    expect(options.rejectUnauthorized).not.toBe(false);
    expect(options.agent).toBeInstanceOf(Agent);
    expect(String((options.agent as Agent).options.cert)).toBe(cert);
    expect((options.agent as Agent).options.keepAlive).toBe(true);
    expect(options.headers).toEqual({ Accept: 'application/json, */*;q=0.8', 'Content-Type': 'application/strategic-merge-patch+json' });
  });

  test('one keep-alive agent per connection, replaced when the TLS material changes', async () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(kubeconfig(`client-certificate-data: ${b64(PEM('CERTIFICATE'))}, client-key-data: ${b64(PEM('PRIVATE KEY'))}`));
    const request = { method: 'GET' } as const;
    const first = (await requestOptions(kubeConfig, request)).agent;
    expect((await requestOptions(kubeConfig, request)).agent).toBe(first);
    (kubeConfig.getCurrentUser() as { certData?: string }).certData = b64(`${PEM('CERTIFICATE')}\n`); // a rotated client certificate
    const rotated = (await requestOptions(kubeConfig, request)).agent;
    expect(rotated).not.toBe(first);
  });

  test('a token becomes Authorization: Bearer; skipTLSVerify turns verification off', async () => {
    const options = await optionsFor(kubeconfig('token: t0k3n', 'insecure-skip-tls-verify: true'));
    expect((options.headers as Record<string, string>).Authorization).toBe('Bearer t0k3n');
    expect(options.rejectUnauthorized).toBe(false);
    expect(options.cert).toBeUndefined();
  });
});

describe('the API server double itself', () => {
  const call = async (method: string, path: string, body?: unknown, contentType = 'application/json', token = double.token) => {
    const res = await fetch(`${double.url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': contentType },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };
  const secrets = `/api/v1/namespaces/${NS}/secrets`;

  test('stringData becomes data; PUT and merge patch honour resourceVersion; JSON patch is 415', async () => {
    const created = await call('POST', secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'sd' }, stringData: { k: 'v' } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ type: 'Opaque', data: { k: b64('v') }, metadata: { uid: expect.any(String), creationTimestamp: expect.any(String) } });
    expect(created.body.stringData).toBeUndefined();
    const stale = { ...created.body, metadata: { ...created.body.metadata, resourceVersion: '1' } };
    expect((await call('PUT', `${secrets}/sd`, stale)).body).toMatchObject({ code: 409, reason: 'Conflict' });
    const put = await call('PUT', `${secrets}/sd`, { ...created.body, data: { k: b64('w') } });
    expect(Number(put.body.metadata.resourceVersion)).toBeGreaterThan(Number(created.body.metadata.resourceVersion));
    const merged = await call('PATCH', `${secrets}/sd`, { data: { k: null, j: b64('x') } }, 'application/merge-patch+json');
    expect(merged.body.data).toEqual({ j: b64('x') });
    expect((await call('PATCH', `${secrets}/sd`, [], 'application/json-patch+json')).status).toBe(415);
    expect((await call('POST', secrets, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x', namespace: 'other' } })).status).toBe(400);
    expect((await call('GET', `${secrets}/sd`, undefined, undefined, 'nope')).status).toBe(401);
    expect((await call('GET', `/api/v1/namespaces/${NS}/pods/p`)).status).toBe(404);
  });

  test('generation follows spec changes only; an invalid strategic patch is 422', async () => {
    const path = `/apis/apps/v1/namespaces/${NS}/deployments/gen`;
    await call('POST', `/apis/apps/v1/namespaces/${NS}/deployments`, deployment(1, 'gen'));
    const smp = 'application/strategic-merge-patch+json';
    expect((await call('PATCH', path, { metadata: { labels: { x: 'y' } } }, smp)).body.metadata.generation).toBe(1);
    expect((await call('PATCH', path, { spec: { replicas: 2 } }, smp)).body.metadata.generation).toBe(2);
    expect((await call('PATCH', path, { spec: { template: { spec: { containers: [{ $patch: 'bogus' }] } } } }, smp)).status).toBe(422);
  });
});
