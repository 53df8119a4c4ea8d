// The Kubernetes target (client-node's KubeConfig, plain REST) on a REAL API
// server (test/support/control-plane.ts), as the identity deploy/rbac.yaml
// binds: creates, server-side applies, the resourceVersion precondition, and
// the ownership hand-over from a create to the apply. Faults come from the
// fault-injecting proxy in front of it (test/support/fault-proxy.ts): 500, 429,
// 503, slow and refused. Writes are counted in the API server's audit log.
// Retries are fast here; their policy is what is tested.
import { Agent } from 'node:https';
import { jest } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { KubeObject } from '../src/domain/types.js';
import { ConflictError, TargetError } from '../src/errors.js';
import { FIELD_MANAGER } from '../src/targets/compare.js';
import { createKubernetesTarget, type KubernetesTargetOptions } from '../src/targets/kubernetes/target.js';
import { requestOptions } from '../src/targets/kubernetes/transport.js';
import type { Target } from '../src/targets/port.js';
import { startControlPlane, type ControlPlane } from './support/control-plane.js';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.js';

const NS = 'kubeflow';
// The machine is shared (a Go build, other suites' control planes): rollouts can take a while.
jest.setTimeout(120_000);
const PASSWORD = 's3cr3t-Pa55w0rd';
const b64 = (text: string) => Buffer.from(text).toString('base64');

let cp: ControlPlane;
let proxy: FaultProxy;
let target: Target;
const fast = { baseDelayMs: 5, maxDelayMs: 40, timeoutMs: 5000 };
function targetFor(options: Partial<KubernetesTargetOptions> = {}, kubeconfig = proxy.kubeconfig()): Target {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(kubeconfig);
  return createKubernetesTarget({ kubeConfig, namespace: NS, retry: fast, ...options });
}

beforeAll(async () => {
  cp = await startControlPlane();
  await cp.applyDeployerRbac();
  proxy = await startFaultProxy({ upstream: cp.server, pki: cp.pki });
  target = targetFor();
}, 120_000);
afterEach(() => proxy.clearFaults());
afterAll(async () => {
  await proxy?.stop();
  await cp?.stop();
});

const deployment = (port: number, name = 'kubeflow-metadata'): KubeObject => ({
  apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: NS, labels: { app: name } },
  spec: { selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: {
    imagePullSecrets: [{ name: 'kubeflow-metadata-registry' }],
    containers: [{
      name: 'metadata',
      image: `gcr.io/kubeflow-images-public/metadata@sha256:${'a'.repeat(64)}`,
      command: ['./server/server', `--http_port=${port}`, '--mysql_service_password=$(MYSQL_ROOT_PASSWORD)'],
      env: [{ name: 'MYSQL_ROOT_PASSWORD', valueFrom: { secretKeyRef: { name: 'kubeflow-metadata-mysql', key: 'password' } } }],
      ports: [{ name: 'http', containerPort: port, protocol: 'TCP' }],
    }],
  } } },
});
const service = (port: number): KubeObject => ({
  apiVersion: 'v1', kind: 'Service', metadata: { name: 'kubeflow-metadata', namespace: NS },
  spec: { selector: { app: 'kubeflow-metadata' }, ports: [{ name: 'http', port, targetPort: 'http', protocol: 'TCP' }] },
});
const secret = (data: Record<string, string>, name = 'kubeflow-metadata-mysql'): KubeObject =>
  ({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: NS }, type: 'Opaque', data });
const configMap = (state: string): KubeObject => ({
  apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'kubeflow-metadata-deployer-state', namespace: NS }, data: { state },
});

const key = (o: KubeObject) => ({ kind: o.kind, name: o.metadata.name });
const PATHS: Record<string, string> = { Deployment: '/apis/apps/v1/namespaces/kubeflow/deployments', Service: '/api/v1/namespaces/kubeflow/services',
  Secret: '/api/v1/namespaces/kubeflow/secrets', ConfigMap: '/api/v1/namespaces/kubeflow/configmaps' };
/** The object as the server holds it, read as admin (not through the target under test). */
const stored = async (kind: string, name: string) => (await cp.request('GET', `${PATHS[kind]}/${name}`)).body;
const writesSince = async (mark: number) => (await cp.writeRequests()).slice(mark);
const ourEntries = (object: any) => (object.metadata.managedFields ?? []).filter((e: any) => e.manager === FIELD_MANAGER);

const failure = (promise: Promise<unknown>) =>
  promise.then(() => { throw new Error('expected a failure'); }, (error: unknown) => error as TargetError);

/**
 * Until the controller has finished with the Deployment: during a rollout its status updates bump the
 * resourceVersion, and a write conditioned on an older one is a 409 (the step layer then recomputes).
 */
async function settled(): Promise<void> {
  let previous = '';
  for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 300))) {
    const { metadata, status } = await stored('Deployment', 'kubeflow-metadata');
    const now = `${metadata.resourceVersion}/${metadata.generation}`;
    if (now === previous && status?.observedGeneration === metadata.generation) return;
    previous = now;
  }
  throw new Error('the Deployment did not settle in 60 s');
}

/** Reads (once the Deployment settled), writes, and reads back; returns the outcome and the object now live. */
async function write(desired: KubeObject, t = target) {
  if (desired.kind === 'Deployment' && desired.metadata.name === 'kubeflow-metadata') await settled();
  const read = await t.read(key(desired));
  const outcome = await t.write(desired, read);
  return { outcome, read, live: (await t.read(key(desired)))! };
}

test('creates each kind when absent (POST), hands its fields to our apply entry; the same objects again send nothing', async () => {
  const all = [secret({ password: b64(PASSWORD) }), deployment(8080), service(8080), configMap('{"flags":[]}')];
  for (const desired of all) {
    expect(await target.read(key(desired))).toBeUndefined();
    const { outcome, live } = await write(desired);
    expect(outcome).toBe('created');
    expect(live).toMatchObject({ apiVersion: desired.apiVersion, kind: desired.kind, metadata: { resourceVersion: expect.any(String) } });
    // What an apply would own: not the defaults the create filled in (Deployment strategy, Service type, ...).
    const [entry, ...more] = ourEntries(live);
    expect([entry.operation, more]).toEqual(['Apply', []]);
    expect(JSON.stringify(entry.fieldsV1)).not.toMatch(/strategy|dnsPolicy|terminationMessagePath|sessionAffinity|internalTrafficPolicy/);
  }
  const creates = await cp.writeRequests();
  // A hand-over whose test op lost to the controller (422) is computed again from a fresh read.
  expect(creates.filter((e) => e.responseStatus?.code !== 422).map((e) => `${e.verb} ${e.objectRef?.resource} ${e.responseStatus?.code}`))
    .toEqual(['secrets', 'deployments', 'services', 'configmaps'].flatMap((r) => [`create ${r} 201`, `patch ${r} 200`]));
  expect(creates.every((e) => e.requestURI.endsWith(`?fieldManager=${FIELD_MANAGER}`))).toBe(true);

  const mark = creates.length;
  for (const desired of all) expect(await target.write(desired, await target.read(key(desired)))).toBe('unchanged');
  expect(await writesSince(mark)).toEqual([]);
});

test('sequential requests share one kept-alive connection (client-node alone opened one per request)', async () => {
  const fresh = targetFor();
  const before = proxy.connections();
  for (let i = 0; i < 5; i += 1) await fresh.read({ kind: 'Service', name: 'kubeflow-metadata' });
  await fresh.write(deployment(8080, 'keep-alive-check'), undefined);
  expect(proxy.connections() - before).toBe(1);
});

test('port 8080 → 9090 leaves exactly one port, with one forced apply conditioned on the resourceVersion read', async () => {
  const mark = (await cp.writeRequests()).length;
  const { outcome, read, live } = await write(deployment(9090));
  expect(outcome).toBe('patched');
  expect((live as any).spec.template.spec.containers[0].ports).toEqual([{ name: 'http', containerPort: 9090, protocol: 'TCP' }]);
  expect(live.metadata.generation).toBe(2);
  const [apply, ...more] = await writesSince(mark);
  expect(more).toEqual([]);
  expect(apply).toMatchObject({ verb: 'patch', requestURI: expect.stringMatching(new RegExp(`\\?fieldManager=${FIELD_MANAGER}&force=true$`)) });
  // The whole object (apiVersion, kind, name, namespace), conditioned on what was read.
  expect(apply?.requestObject).toMatchObject({ apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name: 'kubeflow-metadata', namespace: NS, resourceVersion: read?.metadata.resourceVersion } });
  expect(await target.write(deployment(9090), live)).toBe('unchanged');
});

test('an object the deployer created before server-side apply (no field manager, no User-Agent) is adopted, then applied', async () => {
  expect((await cp.kubectl(['-n', NS, 'delete', 'service', 'kubeflow-metadata'])).code).toBe(0);
  const created = await cp.request('POST', PATHS.Service!, { body: service(8080) }); // as the 0.1 deployer did
  expect(created.body.metadata.managedFields.map((e: any) => `${e.manager} ${e.operation}`)).toEqual(['unknown Update']);
  const mark = (await cp.writeRequests()).length;
  const { outcome, live } = await write(service(9090));
  expect(outcome).toBe('patched');
  expect((live as any).spec.ports).toEqual([{ name: 'http', port: 9090, targetPort: 'http', protocol: 'TCP' }]);
  expect((live as any).spec.clusterIP).toBe(created.body.spec.clusterIP); // a default the apply dropped is kept
  expect((await writesSince(mark)).map((e) => e.requestURI.replace(/.*\?/, ''))).toEqual([`fieldManager=${FIELD_MANAGER}`, `fieldManager=${FIELD_MANAGER}&force=true`]);
  expect(ourEntries(live).map((e: any) => e.operation)).toEqual(['Apply']);
  expect(await target.write(service(9090), live)).toBe('unchanged');
});

test('a Secret key we stopped setting goes', async () => {
  await write(secret({ password: b64(PASSWORD), stale: b64('old') }));
  const { outcome, live } = await write(secret({ password: b64(PASSWORD) }));
  expect(outcome).toBe('patched');
  expect(live.data).toEqual({ password: b64(PASSWORD) });
});

test('an env var an operator added survives, with no write while nothing of ours changed', async () => {
  const set = await cp.kubectl(['-n', NS, 'set', 'env', 'deployment/kubeflow-metadata', 'DEBUG=1']);
  expect(set.stderr).toBe('');
  await settled();
  const mark = (await cp.writeRequests()).length;
  expect(await target.write(deployment(9090), await target.read(key(deployment(9090))))).toBe('unchanged');
  expect(await writesSince(mark)).toEqual([]);
  const { live } = await write(deployment(9092));
  expect((live as any).spec.template.spec.containers[0].env.map((e: any) => e.name)).toEqual(['MYSQL_ROOT_PASSWORD', 'DEBUG']);
});

test('a write computed from a stale read, or against an object created or deleted meanwhile, is a ConflictError', async () => {
  await settled();
  const stale = (await target.read({ kind: 'Deployment', name: 'kubeflow-metadata' }))!;
  expect((await cp.kubectl(['-n', NS, 'scale', 'deployment/kubeflow-metadata', '--replicas=3'])).code).toBe(0); // someone else, meanwhile
  const template = (await stored('Deployment', 'kubeflow-metadata')).spec.template;
  await expect(target.write(deployment(7070), stale)).rejects.toBeInstanceOf(ConflictError);
  expect((await stored('Deployment', 'kubeflow-metadata')).spec.template).toEqual(template);
  // Created by someone else since our read said "absent": 409 AlreadyExists.
  await expect(target.write(configMap('{}'), undefined)).rejects.toBeInstanceOf(ConflictError);
  // Deleted since it was read: an apply creates it whatever its precondition, so the 201 says so.
  await write(configMap('{"b":2}'));
  const read = (await target.read({ kind: 'ConfigMap', name: 'kubeflow-metadata-deployer-state' }))!;
  expect((await cp.kubectl(['-n', NS, 'delete', 'configmap', 'kubeflow-metadata-deployer-state'])).code).toBe(0);
  await expect(target.write(configMap('{"a":1}'), read)).rejects.toThrow(/deleted since it was read/);
});

test('500 twice is retried and succeeds; 429 waits for Retry-After', async () => {
  proxy.failNext(500, { count: 2, method: 'PATCH' });
  expect((await write(deployment(8081))).outcome).toBe('patched');
  expect(proxy.unusedFaults()).toBe(0);
  proxy.failNext(429, { retryAfter: 1 });
  const started = Date.now();
  expect(await target.read({ kind: 'Service', name: 'kubeflow-metadata' })).toBeDefined();
  expect(Date.now() - started).toBeGreaterThanOrEqual(950);
});

test('persistent 503: TargetError naming the object and the status, nothing written, no secret', async () => {
  const live = await target.read({ kind: 'Secret', name: 'kubeflow-metadata-mysql' });
  const before = await stored('Secret', 'kubeflow-metadata-mysql');
  proxy.failNext(503, { count: 5 });
  const error = await failure(target.write(secret({ password: b64('n3w-' + PASSWORD) }), live));
  expect(error).toBeInstanceOf(TargetError);
  expect(error.message).toBe('patch Secret kubeflow/kubeflow-metadata-mysql failed: 503 after 5 attempts');
  expect(error.statusCode).toBe(503);
  expect((await stored('Secret', 'kubeflow-metadata-mysql')).metadata.resourceVersion).toBe(before.metadata.resourceVersion);
  proxy.failNext(503, { count: 5 });
  await expect(target.write(secret({ password: b64(PASSWORD) }, 'kubeflow-metadata-registry'), undefined)).rejects.toThrow(/^create Secret .* 503 after 5/);
  expect((await cp.request('GET', `${PATHS.Secret}/kubeflow-metadata-registry`)).status).toBe(404);
});

test('other 4xx fail at once with the API Status message, never the Secret', async () => {
  const mark = proxy.requests.length;
  const forbidden = await failure(target.read({ kind: 'Secret', name: 'not-the-deployers' })); // RBAC names its Secrets
  expect(forbidden.message).toMatch(/^read Secret kubeflow\/not-the-deployers failed: 403 Forbidden: secrets "not-the-deployers" is forbidden: User "kubeflow-metadata-deployer"/);
  expect(proxy.requests.length - mark).toBe(1);
  const invalid = await failure(target.write(secret({ password: b64(PASSWORD) }, ''), undefined));
  expect(invalid).toBeInstanceOf(TargetError);
  expect(invalid.message).toMatch(/^create Secret kubeflow\/ failed: 422 Invalid: Secret "" is invalid: metadata.name: Required value/);
  const badData = await failure(target.write(secret({ password: `${PASSWORD}!` }, 'kubeflow-metadata-registry'), undefined)); // not base64
  expect(badData.message).toMatch(/^create Secret kubeflow\/kubeflow-metadata-registry failed: 400/);
  const stranger = targetFor({}, proxy.kubeconfig().replace(/users: .*/, 'users: [{name: deployer, user: {token: not-a-token}}]').replace(proxy.url, cp.server));
  await expect(stranger.read({ kind: 'Secret', name: 'kubeflow-metadata-mysql' })).rejects.toThrow(/failed: 401/);
  for (const e of [forbidden, invalid, badData]) {
    const text = `${e.message} ${e.stack} ${JSON.stringify(e)} ${String(e.cause)}`;
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(b64(PASSWORD));
  }
});

test('a request slower than the timeout is retried; always slow, it is reported', async () => {
  const patient = targetFor({ retry: { ...fast, timeoutMs: 300 } });
  proxy.delayNext(1000);
  expect(await patient.read({ kind: 'Service', name: 'kubeflow-metadata' })).toBeDefined();
  const impatient = targetFor({ retry: { ...fast, attempts: 2, timeoutMs: 150 } });
  proxy.hangNext({ count: 2 });
  await expect(impatient.read({ kind: 'Service', name: 'kubeflow-metadata' }))
    .rejects.toThrow('read Service kubeflow/kubeflow-metadata failed: timeout after 2 attempts');
});

test('retries stop when the time budget runs out, leaving the margin', async () => {
  const started = Date.now();
  const budgeted = targetFor({ deadline: () => 1500 - (Date.now() - started), retry: { ...fast, marginMs: 1000 } });
  proxy.failNext(429, { retryAfter: 5 });
  await expect(budgeted.read({ kind: 'Service', name: 'kubeflow-metadata' })).rejects.toThrow(/failed: 429 after 1 attempt \(out of time\)/);
  expect(Date.now() - started).toBeLessThan(500);
});

test('connection refused: retried, then a TargetError', async () => {
  await proxy.refuse();
  try {
    await expect(target.read({ kind: 'Deployment', name: 'kubeflow-metadata' }))
      .rejects.toThrow('read Deployment kubeflow/kubeflow-metadata failed: ECONNREFUSED after 5 attempts');
  } finally {
    await proxy.resume();
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
    return requestOptions(kubeConfig, { method: 'PATCH', contentType: 'application/apply-patch+yaml' });
  };

  test('a client certificate goes to the TLS options and the agent, with the cluster CA', async () => {
    const cert = PEM('CERTIFICATE'), key = PEM('PRIVATE KEY');
    const options = await optionsFor(kubeconfig(`client-certificate-data: ${b64(cert)}, client-key-data: ${b64(key)}`));
    expect([String(options.cert), String(options.key), String(options.ca)]).toEqual([cert, key, PEM('CERTIFICATE')]);
    expect(options.rejectUnauthorized).not.toBe(false);
    expect(options.agent).toBeInstanceOf(Agent);
    expect(String((options.agent as Agent).options.cert)).toBe(cert);
    expect((options.agent as Agent).options.keepAlive).toBe(true);
    expect(options.headers).toEqual({ Accept: 'application/json, */*;q=0.8', 'Content-Type': 'application/apply-patch+yaml' });
  });

  test('one keep-alive agent per connection, replaced when the TLS material changes', async () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(kubeconfig(`client-certificate-data: ${b64(PEM('CERTIFICATE'))}, client-key-data: ${b64(PEM('PRIVATE KEY'))}`));
    const request = { method: 'GET' } as const;
    const first = (await requestOptions(kubeConfig, request)).agent;
    expect((await requestOptions(kubeConfig, request)).agent).toBe(first);
    (kubeConfig.getCurrentUser() as { certData?: string }).certData = b64(`${PEM('CERTIFICATE')}\n`); // a rotated client certificate
    expect((await requestOptions(kubeConfig, request)).agent).not.toBe(first);
  });

  test('a token becomes Authorization: Bearer; skipTLSVerify turns verification off', async () => {
    const options = await optionsFor(kubeconfig('token: t0k3n', 'insecure-skip-tls-verify: true'));
    expect([(options.headers as Record<string, string>).Authorization, options.rejectUnauthorized, options.cert]).toEqual(['Bearer t0k3n', false, undefined]);
  });
});
