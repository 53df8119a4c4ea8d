// Faults: the real handlers behind the local server, wired to a REAL Kubernetes
// API server (test/support/control-plane.ts) through a fault-injecting TLS proxy
// (test/support/fault-proxy.ts: 500, 403, 429 + Retry-After, slow answers, answers
// that never come, dropped and refused connections; everything else forwarded as
// the RBAC-bound deployer identity), and to a REAL registry behind a loopback
// proxy that can fail a share of requests or go down. Every
// event must end applied, or reported (`blocked` with its reason, or a 502
// naming the failed call), never half-applied (no Deployment pointing at a
// missing Secret or at an image the registry does not have), and a later event
// must recover.
import { createServer, request as forward, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { startControlPlane, type ControlPlane } from './support/control-plane.js';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.js';
import { watchStore } from './support/leak-guard.js';
import { startLocalApp, type LocalApp } from './support/local-app.js';
import { pushImage, startRegistry, type TestRegistry } from './support/registry.js';

const SECRET = 'faults-webhook-secret-0123456789';
const REPOSITORY = 'kubeflow/metadata';
const NS = '/namespaces/kubeflow';
const auth = { authorization: `Bearer ${SECRET}` };

/** A loopback proxy to the registry: with `failEvery` n, requests 1, n+1, 2n+1… answer 503; `down` resets every connection. */
async function startFlakyProxy(upstream: string) {
  const target = new URL(upstream);
  const state = { failEvery: 0, down: false, seen: 0, failed: 0 };
  const server: Server = createServer((req, res) => {
    state.seen++;
    if (state.down) return void (state.failed++, req.socket.destroy());
    if (state.failEvery > 0 && state.seen % state.failEvery === 1 % state.failEvery) { // the 1st, then every n-th
      state.failed++;
      return void res.writeHead(503, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNAVAILABLE"}]}');
    }
    const out = forward({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { host: `127.0.0.1:${port}`, state, stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }) };
}

let registry: TestRegistry;
let proxy: Awaited<ReturnType<typeof startFlakyProxy>>;
let cp: ControlPlane;
let kube: FaultProxy;
let app: LocalApp;
let dir: string;
const known = new Set<string>(); // digests the registry really has

/** Fails `times` requests matching `method` and `path` with `status` at the proxy (reads of the same path pass). */
function failWrites(method: string, path: RegExp, status: number, times: number, retryAfter?: number) {
  kube.failNext(status, { method, path, count: times, retryAfter });
}

/** The deployer's objects as the real server holds them (read as admin, not through the proxy). */
async function objects(): Promise<any[]> {
  const lists = await Promise.all([['apps/v1', 'deployments', 'Deployment'], ['v1', 'services', 'Service'], ['v1', 'secrets', 'Secret'], ['v1', 'configmaps', 'ConfigMap']]
    .map(async ([group, resource, kind]) => {
      const { status, body } = await cp.request('GET', `/${group === 'v1' ? 'api' : 'apis'}/${group}${NS}/${resource}`);
      if (status !== 200) throw new Error(`listing ${resource}: ${status}`);
      return (body.items as any[]).map((item) => ({ ...item, kind }));
    }));
  // The server's own objects (kube-root-ca.crt in every namespace) are not the deployer's.
  return lists.flat().filter((o) => String(o.metadata.name).startsWith('kubeflow-metadata'));
}
const find = async (kind: string, name: string) => (await objects()).find((o) => o.kind === kind && o.metadata.name === name);
const image = async () => (await find('Deployment', 'kubeflow-metadata'))?.spec.template.spec.containers[0].image as string | undefined;
const stateOf = async () => {
  const data = (await find('ConfigMap', 'kubeflow-metadata-deployer-state'))?.data as Record<string, string> | undefined;
  return data ? JSON.stringify(data) : '';
};
const kinds = async () => (await objects()).map((o) => o.kind).sort();

/** Never half-applied: a Deployment refers only to Secrets that exist and to an image the registry has. */
async function expectConsistent() {
  const all = await objects();
  const secrets = new Set(all.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name));
  for (const deployment of all.filter((o) => o.kind === 'Deployment')) {
    const pod = deployment.spec.template.spec;
    const refs = [
      ...(pod.imagePullSecrets ?? []).map((s: { name: string }) => s.name),
      ...pod.containers.flatMap((c: any) => (c.env ?? []).map((e: any) => e.valueFrom?.secretKeyRef?.name).filter(Boolean)),
    ];
    expect(refs.filter((name: string) => !secrets.has(name))).toEqual([]);
    expect(known.has(String(pod.containers[0].image).split('@')[1] ?? '')).toBe(true);
  }
}

const push = async (digest: string, second: number) => {
  const body = JSON.stringify({ events: [{ id: `f-${second}`, timestamp: new Date(Date.UTC(2030, 0, 1, 0, 0, second)).toISOString(), action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 9, digest, repository: REPOSITORY, tag: 'v1' } }] });
  const answer = await app.request('POST', '/webhooks/registry/distribution', body, { ...auth, 'content-type': 'application/vnd.docker.distribution.events.v1+json' });
  await expectConsistent();
  return answer;
};
const config = async (password: string) => {
  const answer = await app.request('POST', '/webhooks/config', JSON.stringify({ relations: { mysql: { host: 'mysql', port: 3306, password } } }), { ...auth, 'content-type': 'application/json' });
  await expectConsistent();
  return answer;
};
const newImage = async () => {
  const digest = await pushImage(registry, { repository: REPOSITORY, tag: 'v1', mediaType: 'oci' });
  known.add(digest);
  return digest;
};

beforeAll(async () => {
  registry = await startRegistry();
  proxy = await startFlakyProxy(registry.url);
  cp = await startControlPlane();
  await cp.applyDeployerRbac();
  kube = await startFaultProxy({ upstream: cp.server, pki: cp.pki });
  watchStore('the API server\'s non-Secret objects', async () => JSON.stringify((await objects()).filter((o) => o.kind !== 'Secret')));
  dir = await mkdtemp(join(tmpdir(), 'kfm-faults-'));
  await writeFile(join(dir, 'kubeconfig'), kube.kubeconfig());
  await newImage();
  app = await startLocalApp({
    KFM_TARGET: 'kubernetes', KUBECONFIG: join(dir, 'kubeconfig'), KFM_OFFLINE: 'false', KFM_WEBHOOK_SECRET: SECRET, KFM_TAG_POLICY: 'track',
    KFM_IMAGE: `${proxy.host}/${REPOSITORY}:v1`, KFM_REGISTRY_AUTH: JSON.stringify({ [proxy.host]: registry.auth }),
  });
}, 120_000);
afterEach(() => {
  // Each injected fault was met exactly as often as asked (a changed retry count must show here).
  const unused = kube.unusedFaults();
  kube.clearFaults();
  expect(unused).toBe(0);
});
afterAll(async () => {
  await app?.stop();
  await kube?.stop();
  await cp?.stop();
  await proxy?.stop();
  await registry?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('first deploy with the API server failing writes', () => {
  it('Secret creation fails (500, every retry): 502 naming it, and no Deployment', async () => {
    failWrites('POST', new RegExp(`^/api/v1${NS}/secrets$`), 500, 5);
    const answer = await config('faults-mysql-password-1');
    expect(answer.status).toBe(502);
    expect(answer.json.error).toMatch(/^create Secret kubeflow\/kubeflow-metadata-mysql failed: 500 after 5 attempts/);
    expect(await find('Deployment', 'kubeflow-metadata')).toBeUndefined();
  }, 20_000);

  it('Deployment creation forbidden (403, not retried): 502 naming it; Secrets and Service stay, no state', async () => {
    failWrites('POST', new RegExp(`^/apis/apps/v1${NS}/deployments$`), 403, 1);
    const answer = await config('faults-mysql-password-1');
    expect(answer.status).toBe(502);
    expect(answer.json.error).toMatch(/^create Deployment kubeflow\/kubeflow-metadata failed: 403 Forbidden/);
    expect(await kinds()).toEqual(['Secret', 'Secret', 'Service']);
  });

  it('the same event again: applied', async () => {
    const answer = await config('faults-mysql-password-1');
    expect(answer.status).toBe(200);
    expect(answer.json.status).toEqual({ state: 'active', message: '' });
    expect(await kinds()).toEqual(['ConfigMap', 'Deployment', 'Secret', 'Secret', 'Service']);
  });
});

describe('pushes with the registry failing', () => {
  it('every second registry request answers 503: retried, applied', async () => {
    const digest = await newImage();
    Object.assign(proxy.state, { failEvery: 2, seen: 0, failed: 0 });
    const answer = await push(digest, 1);
    proxy.state.failEvery = 0;
    expect(answer.status).toBe(200);
    expect(answer.json.status).toEqual({ state: 'active', message: '' });
    expect(await image()).toBe(`${proxy.host}/${REPOSITORY}@${digest}`);
    expect(proxy.state.failed).toBe(1); // the first lookup failed, its retry passed
  });

  it('the registry down: blocked with the reason, the workload untouched; back up: recovered', async () => {
    const before = await image();
    const digest = await newImage();
    proxy.state.down = true;
    const failed = await push(digest, 2);
    proxy.state.down = false;
    expect(failed.status).toBe(200);
    expect(failed.json.status).toEqual({ state: 'blocked', message: 'unable to fetch resource: oci-image' });
    expect(failed.json.failures['oci-image']).toMatch(/unreachable/);
    expect(await image()).toBe(before);
    const again = await push(digest, 2);
    expect(again.status).toBe(200);
    expect(again.json.status).toEqual({ state: 'active', message: '' });
    expect(await image()).toBe(`${proxy.host}/${REPOSITORY}@${digest}`);
  }, 20_000);
});

describe('pushes with the API server failing', () => {
  it('the Deployment patch fails (500, every retry): 502 naming it, nothing changed; the same push again: applied', async () => {
    const [before, state] = [await image(), await stateOf()];
    const digest = await newImage();
    failWrites('PATCH', /\/deployments\/kubeflow-metadata$/, 500, 5);
    const failed = await push(digest, 3);
    expect(failed.status).toBe(502);
    expect(failed.json.error).toMatch(/^patch Deployment kubeflow\/kubeflow-metadata failed: 500 after 5 attempts/);
    expect([await image(), await stateOf()]).toEqual([before, state]);
    const again = await push(digest, 3);
    expect(again.status).toBe(200);
    expect(await image()).toBe(`${proxy.host}/${REPOSITORY}@${digest}`);
  }, 20_000);

  it('the state write forbidden (403): 502 naming it; the same push again records it', async () => {
    const digest = await newImage();
    failWrites('PATCH', /\/configmaps\/kubeflow-metadata-deployer-state$/, 403, 1);
    const failed = await push(digest, 4);
    expect(failed.status).toBe(502);
    expect(failed.json.error).toMatch(/^patch ConfigMap kubeflow\/kubeflow-metadata-deployer-state failed: 403 Forbidden/);
    expect(await stateOf()).not.toContain(digest);
    const again = await push(digest, 4);
    expect(again.status).toBe(200);
    expect(await stateOf()).toContain(digest);
    expect(await image()).toBe(`${proxy.host}/${REPOSITORY}@${digest}`);
  });

  it('a 429 with Retry-After and slow answers: retried and applied', async () => {
    const digest = await newImage();
    failWrites('PATCH', /\/deployments\/kubeflow-metadata$/, 429, 1, 1);
    kube.delayNext(300, { count: 3 });
    const started = Date.now();
    const answer = await push(digest, 5);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000); // Retry-After: 1 was honoured
    expect(answer.status).toBe(200);
    expect(await image()).toBe(`${proxy.host}/${REPOSITORY}@${digest}`);
  });

  it('the API server refuses connections: 502 naming the call; back up: the same push applied', async () => {
    const [before, digest] = [await image(), await newImage()];
    await kube.refuse();
    const failed = await app.request('POST', '/webhooks/registry/distribution', JSON.stringify({ events: [{ action: 'push', timestamp: '2030-01-01T00:00:06Z', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, repository: REPOSITORY, tag: 'v1' } }] }), { ...auth, 'content-type': 'application/json' });
    await kube.resume();
    expect(failed.status).toBe(502);
    expect(failed.json.error).toMatch(/^read \w+ kubeflow\/kubeflow-metadata[\w-]* failed: ECONNREFUSED after 5 attempts/);
    expect(await image()).toBe(before);
    const again = await push(digest, 6);
    expect(again.status).toBe(200);
    expect(await image()).toBe(`${proxy.host}/${REPOSITORY}@${digest}`);
  }, 20_000);

  it('an answer that never comes (the request times out) and a dropped connection: retried, applied', async () => {
    const digest = await newImage();
    const deployment = { method: 'PATCH', path: /\/deployments\/kubeflow-metadata$/ };
    kube.hangNext(deployment);
    kube.dropNext(deployment);
    const mark = kube.requests.length;
    const answer = await push(digest, 7);
    expect(answer.status).toBe(200);
    expect(answer.json.status).toEqual({ state: 'active', message: '' });
    expect(await image()).toBe(`${proxy.host}/${REPOSITORY}@${digest}`);
    expect(kube.requests.slice(mark).map((r) => r.injected).filter(Boolean)).toEqual(['hang', 'drop']);
  }, 60_000);

  it('the server applied the Deployment but the answer was lost: the retry finds it done, the push ends applied once', async () => {
    const digest = await newImage();
    const mark = (await cp.writeRequests()).length;
    kube.dropAnswerNext({ method: 'PATCH', path: /\/deployments\/kubeflow-metadata$/ });
    const answer = await push(digest, 8);
    expect(answer.status).toBe(200);
    expect(answer.json.status).toEqual({ state: 'active', message: '' });
    expect(await image()).toBe(`${proxy.host}/${REPOSITORY}@${digest}`);
    // The server saw the lost write succeed; nothing after it moved the image again.
    const deploymentWrites = (await cp.writeRequests()).slice(mark).filter((e) => e.objectRef?.resource === 'deployments');
    const images = deploymentWrites.filter((e) => e.responseStatus?.code === 200)
      .map((e) => (e.responseObject as any)?.spec?.template?.spec?.containers?.[0]?.image as string);
    const wanted = `${proxy.host}/${REPOSITORY}@${digest}`;
    expect(images.at(-1)).toBe(wanted);
    expect(images.slice(images.indexOf(wanted)).every((i) => i === wanted)).toBe(true);
  }, 60_000);

  it('a password rotation whose Secret patch fails: 502, the pods keep the old revision; retried: applied', async () => {
    const revision = async () => JSON.stringify((await find('Deployment', 'kubeflow-metadata')).spec.template.metadata);
    const before = await revision();
    failWrites('PATCH', /\/secrets\/kubeflow-metadata-mysql$/, 500, 5);
    const failed = await config('faults-mysql-password-2');
    expect(failed.status).toBe(502);
    expect(failed.json.error).toMatch(/^patch Secret kubeflow\/kubeflow-metadata-mysql failed: 500 after 5 attempts/);
    expect(await revision()).toBe(before);
    const again = await config('faults-mysql-password-2');
    expect(again.status).toBe(200);
    expect(again.json.status).toEqual({ state: 'active', message: '' });
    expect(await revision()).not.toBe(before);
    const status = await app.request('GET', '/status', undefined, auth);
    expect(status.json.failures).toEqual({});
  }, 20_000);
});
