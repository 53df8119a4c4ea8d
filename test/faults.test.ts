// Faults: the real handlers behind the local server, wired to the Kubernetes
// API double (KFM_TARGET=kubernetes, a kubeconfig file) and to a REAL registry
// behind a loopback proxy that can fail a share of requests or go down. Every
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
import { startKubeDouble, type KubeDouble, type LoggedRequest } from './support/kube-double.js';
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
let double: KubeDouble;
let app: LocalApp;
let dir: string;
const known = new Set<string>(); // digests the registry really has
const hooks: Array<{ left: number; hook: (request: LoggedRequest) => void }> = [];

/** Fails `times` requests matching `method` and `path` with `status`, as they arrive (reads of the same path pass). */
function failWrites(method: string, path: RegExp, status: number, times: number, retryAfter?: number) {
  const entry = {
    left: times,
    hook(request: LoggedRequest) {
      if (entry.left > 0 && request.method === method && path.test(request.path)) {
        entry.left--;
        double.failNext({ status, retryAfter, path: new RegExp(`^${request.path.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`) });
      }
    },
  };
  hooks.push(entry);
}

const objects = () => double.objects() as any[];
const find = (kind: string, name: string) => objects().find((o) => o.kind === kind && o.metadata.name === name);
const image = () => find('Deployment', 'kubeflow-metadata')?.spec.template.spec.containers[0].image as string | undefined;
const stateOf = () => {
  const data = find('ConfigMap', 'kubeflow-metadata-deployer-state')?.data as Record<string, string> | undefined;
  return data ? JSON.stringify(data) : '';
};

/** Never half-applied: a Deployment refers only to Secrets that exist and to an image the registry has. */
function expectConsistent() {
  const secrets = new Set(objects().filter((o) => o.kind === 'Secret').map((o) => o.metadata.name));
  for (const deployment of objects().filter((o) => o.kind === 'Deployment')) {
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
  expectConsistent();
  return answer;
};
const config = async (password: string) => {
  const answer = await app.request('POST', '/webhooks/config', JSON.stringify({ relations: { mysql: { host: 'mysql', port: 3306, password } } }), { ...auth, 'content-type': 'application/json' });
  expectConsistent();
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
  double = await startKubeDouble();
  const log = double.requests;
  log.push = (...items: LoggedRequest[]) => {
    for (const item of items) for (const entry of hooks) entry.hook(item);
    return Array.prototype.push.apply(log, items);
  };
  dir = await mkdtemp(join(tmpdir(), 'kfm-faults-'));
  await writeFile(join(dir, 'kubeconfig'), double.kubeconfig());
  await newImage();
  app = await startLocalApp({
    KFM_TARGET: 'kubernetes', KUBECONFIG: join(dir, 'kubeconfig'), KFM_OFFLINE: 'false', KFM_WEBHOOK_SECRET: SECRET, KFM_TAG_POLICY: 'track',
    KFM_IMAGE: `${proxy.host}/${REPOSITORY}:v1`, KFM_REGISTRY_AUTH: JSON.stringify({ [proxy.host]: registry.auth }),
  });
}, 30_000);
afterEach(() => {
  // Each injected fault was met exactly as often as asked (a changed retry count must show here).
  const unused = hooks.reduce((sum, entry) => sum + entry.left, 0);
  hooks.splice(0);
  double.clearFaults();
  expect(unused).toBe(0);
});
afterAll(async () => {
  await app?.stop();
  await double?.stop();
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
    expect(find('Deployment', 'kubeflow-metadata')).toBeUndefined();
  }, 20_000);

  it('Deployment creation forbidden (403, not retried): 502 naming it; Secrets and Service stay, no state', async () => {
    failWrites('POST', new RegExp(`^/apis/apps/v1${NS}/deployments$`), 403, 1);
    const answer = await config('faults-mysql-password-1');
    expect(answer.status).toBe(502);
    expect(answer.json.error).toMatch(/^create Deployment kubeflow\/kubeflow-metadata failed: 403 Forbidden/);
    expect(objects().map((o) => o.kind).sort()).toEqual(['Secret', 'Secret', 'Service']);
  });

  it('the same event again: applied', async () => {
    const answer = await config('faults-mysql-password-1');
    expect(answer.status).toBe(200);
    expect(answer.json.status).toEqual({ state: 'active', message: '' });
    expect(objects().map((o) => o.kind).sort()).toEqual(['ConfigMap', 'Deployment', 'Secret', 'Secret', 'Service']);
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
    expect(image()).toBe(`${proxy.host}/${REPOSITORY}@${digest}`);
    expect(proxy.state.failed).toBe(1); // the first lookup failed, its retry passed
  });

  it('the registry down: blocked with the reason, the workload untouched; back up: recovered', async () => {
    const before = image();
    const digest = await newImage();
    proxy.state.down = true;
    const failed = await push(digest, 2);
    proxy.state.down = false;
    expect(failed.status).toBe(200);
    expect(failed.json.status).toEqual({ state: 'blocked', message: 'unable to fetch resource: oci-image' });
    expect(failed.json.failures['oci-image']).toMatch(/unreachable/);
    expect(image()).toBe(before);
    const again = await push(digest, 2);
    expect(again.status).toBe(200);
    expect(again.json.status).toEqual({ state: 'active', message: '' });
    expect(image()).toBe(`${proxy.host}/${REPOSITORY}@${digest}`);
  }, 20_000);
});

describe('pushes with the API server failing', () => {
  it('the Deployment patch fails (500, every retry): 502 naming it, nothing changed; the same push again: applied', async () => {
    const [before, state] = [image(), stateOf()];
    const digest = await newImage();
    failWrites('PATCH', /\/deployments\/kubeflow-metadata$/, 500, 5);
    const failed = await push(digest, 3);
    expect(failed.status).toBe(502);
    expect(failed.json.error).toMatch(/^patch Deployment kubeflow\/kubeflow-metadata failed: 500 after 5 attempts/);
    expect([image(), stateOf()]).toEqual([before, state]);
    const again = await push(digest, 3);
    expect(again.status).toBe(200);
    expect(image()).toBe(`${proxy.host}/${REPOSITORY}@${digest}`);
  }, 20_000);

  it('the state write forbidden (403): 502 naming it; the same push again records it', async () => {
    const digest = await newImage();
    failWrites('PATCH', /\/configmaps\/kubeflow-metadata-deployer-state$/, 403, 1);
    const failed = await push(digest, 4);
    expect(failed.status).toBe(502);
    expect(failed.json.error).toMatch(/^patch ConfigMap kubeflow\/kubeflow-metadata-deployer-state failed: 403 Forbidden/);
    expect(stateOf()).not.toContain(digest);
    const again = await push(digest, 4);
    expect(again.status).toBe(200);
    expect(stateOf()).toContain(digest);
    expect(image()).toBe(`${proxy.host}/${REPOSITORY}@${digest}`);
  });

  it('a 429 with Retry-After and slow answers: retried and applied', async () => {
    const digest = await newImage();
    failWrites('PATCH', /\/deployments\/kubeflow-metadata$/, 429, 1, 1);
    double.delayNext(300, 3);
    const started = Date.now();
    const answer = await push(digest, 5);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000); // Retry-After: 1 was honoured
    expect(answer.status).toBe(200);
    expect(image()).toBe(`${proxy.host}/${REPOSITORY}@${digest}`);
  });

  it('the API server refuses connections: 502 naming the call; back up: the same push applied', async () => {
    const [before, digest] = [image(), await newImage()];
    await double.refuse();
    const failed = await app.request('POST', '/webhooks/registry/distribution', JSON.stringify({ events: [{ action: 'push', timestamp: '2030-01-01T00:00:06Z', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest, repository: REPOSITORY, tag: 'v1' } }] }), { ...auth, 'content-type': 'application/json' });
    await double.resume();
    expect(failed.status).toBe(502);
    expect(failed.json.error).toMatch(/^read \w+ kubeflow\/kubeflow-metadata[\w-]* failed: ECONNREFUSED after 5 attempts/);
    expect(image()).toBe(before);
    const again = await push(digest, 6);
    expect(again.status).toBe(200);
    expect(image()).toBe(`${proxy.host}/${REPOSITORY}@${digest}`);
  }, 20_000);

  it('a password rotation whose Secret patch fails: 502, the pods keep the old revision; retried: applied', async () => {
    const revision = () => JSON.stringify(find('Deployment', 'kubeflow-metadata').spec.template.metadata);
    const before = revision();
    failWrites('PATCH', /\/secrets\/kubeflow-metadata-mysql$/, 500, 5);
    const failed = await config('faults-mysql-password-2');
    expect(failed.status).toBe(502);
    expect(failed.json.error).toMatch(/^patch Secret kubeflow\/kubeflow-metadata-mysql failed: 500 after 5 attempts/);
    expect(revision()).toBe(before);
    const again = await config('faults-mysql-password-2');
    expect(again.status).toBe(200);
    expect(again.json.status).toEqual({ state: 'active', message: '' });
    expect(revision()).not.toBe(before);
    const status = await app.request('GET', '/status', undefined, auth);
    expect(status.json.failures).toEqual({});
  }, 20_000);
});
