// Faults: the step the worker runs (createDeployer(...).run) with the real registry fetcher behind
// a loopback proxy that can fail a share of requests or go down, and the real Kubernetes target on a
// REAL API server (test/support/control-plane.ts) behind a fault-injecting TLS proxy
// (test/support/fault-proxy.ts: 500, 403, 429 + Retry-After, slow answers, answers that never come,
// dropped connections, answers lost after the server acted, refused connections; everything else is
// forwarded as the RBAC-bound deployer identity). Every event must end applied, or reported (`blocked`
// with its reason, or the step failing with an error naming the failed call, which leaves the message
// for redelivery), never half-applied (no Deployment pointing at a missing Secret or at an image the
// registry does not have), and a later event must recover.
import { createServer, request as forward, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { startControlPlane, type ControlPlane } from './support/control-plane.js';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.js';
import { observe, watchSecrets, watchStore } from './support/leak-guard.js';
import { pushImage, startRegistry, type TestRegistry } from './support/registry.js';
import { createDeployer, type Trigger } from '../src/app/deployer.js';
import { createKubernetesTarget } from '../src/targets/kubernetes/target.js';
import { createRegistryFetcher } from '../src/resource/registry-fetcher.js';
import { createCredentialProvider } from '../src/resource/credentials/chain.js';
import { parseImageRef } from '../src/image/reference.js';
import { parseTagPolicy } from '../src/policy/tag-policy.js';
import { createLogger } from '../src/log.js';

const REPOSITORY = 'kubeflow/metadata';
const NS = '/namespaces/kubeflow';
watchSecrets('faults-mysql-password-1', 'faults-mysql-password-2');
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
let deployer: ReturnType<typeof createDeployer>;
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

type Result = { report?: Awaited<ReturnType<typeof deployer.run>>; error?: string };
/** One step, as the worker runs it: its report, or the error that fails the message. Consistent either way. */
async function step(trigger: Trigger): Promise<Result> {
  let result: Result;
  try {
    result = { report: await deployer.run(trigger) };
  } catch (error) {
    result = { error: (error as Error).message };
  }
  await expectConsistent();
  return result;
}
const push = (digest: string, second: number) => step({ hook: 'upgrade-charm', pushes: [{
  provider: 'distribution', repository: REPOSITORY, tag: 'v1', digest, pushedAt: new Date(Date.UTC(2030, 0, 1, 0, 0, second)).toISOString() }] });
const config = (password: string) => step({ hook: 'config-changed', mysql: { host: 'mysql', port: 3306, user: 'root', password } });
const active = { state: 'active', message: '' };
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
  await newImage();
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromString(kube.kubeconfig());
  const image = parseImageRef(`${proxy.host}/${REPOSITORY}:v1`);
  deployer = createDeployer({
    app: 'kubeflow-metadata', namespace: 'kubeflow', image, tagPolicy: parseTagPolicy('track', image.tag), setStatus: true,
    // 5 s per request: a request that never gets an answer costs that much (the default is 10 s).
    target: createKubernetesTarget({ kubeConfig, namespace: 'kubeflow', retry: { timeoutMs: 5000 } }),
    fetcher: createRegistryFetcher({ credentials: createCredentialProvider({ registryAuth: { [proxy.host]: registry.auth! } }) }),
    logger: createLogger((line) => observe('a log line', line)),
  });
}, 120_000);
afterEach(() => {
  // Each injected fault was met exactly as often as asked (a changed retry count must show here).
  const unused = kube.unusedFaults();
  kube.clearFaults();
  expect(unused).toBe(0);
});
afterAll(async () => {
  await kube?.stop();
  await cp?.stop();
  await proxy?.stop();
  await registry?.stop();
});

describe('first deploy with the API server failing writes', () => {
  it('Secret creation fails (500, every retry): the step fails naming it, and no Deployment', async () => {
    failWrites('POST', new RegExp(`^/api/v1${NS}/secrets$`), 500, 5);
    const { error } = await config('faults-mysql-password-1');
    expect(error).toMatch(/^create Secret kubeflow\/kubeflow-metadata-mysql failed: 500 after 5 attempts/);
    expect(await find('Deployment', 'kubeflow-metadata')).toBeUndefined();
  }, 30_000);

  it('Deployment creation forbidden (403, not retried): the step fails naming it; its claim, the Secrets and the Service stay', async () => {
    failWrites('POST', new RegExp(`^/apis/apps/v1${NS}/deployments$`), 403, 1);
    const { error } = await config('faults-mysql-password-1');
    expect(error).toMatch(/^create Deployment kubeflow\/kubeflow-metadata failed: 403 Forbidden/);
    // The state is claimed before any object is written (src/app/apply.ts): it stays, ahead of the workload.
    expect(await kinds()).toEqual(['ConfigMap', 'Secret', 'Secret', 'Service']);
  });

  it('the same event again: applied', async () => {
    const { report } = await config('faults-mysql-password-1');
    expect(report?.status).toEqual(active);
    expect(await kinds()).toEqual(['ConfigMap', 'Deployment', 'Secret', 'Secret', 'Service']);
  });
});

describe('pushes with the registry failing', () => {
  it('every second registry request answers 503: retried, applied', async () => {
    const digest = await newImage();
    Object.assign(proxy.state, { failEvery: 2, seen: 0, failed: 0 });
    const { report } = await push(digest, 1);
    proxy.state.failEvery = 0;
    expect(report?.status).toEqual(active);
    expect(await image()).toBe(`${proxy.host}/${REPOSITORY}@${digest}`);
    expect(proxy.state.failed).toBe(1); // the first lookup failed, its retry passed
  });

  it('the registry down: the workload untouched, the reason reported; back up: recovered', async () => {
    const before = await image();
    const digest = await newImage();
    proxy.state.down = true;
    const failed = await push(digest, 2);
    proxy.state.down = false;
    expect(failed.report?.outcome).toBe('failed'); // transient: the queue delivers it again
    expect(failed.report?.failures['oci-image']).toMatch(/unreachable/);
    expect(await image()).toBe(before);
    const again = await push(digest, 2);
    expect(again.report?.status).toEqual(active);
    expect(await image()).toBe(`${proxy.host}/${REPOSITORY}@${digest}`);
  }, 30_000);
});

describe('pushes with the API server failing', () => {
  const deployment = { method: 'PATCH', path: /\/deployments\/kubeflow-metadata$/ };

  it('the Deployment patch fails (500, every retry): the step fails naming it, the image unchanged; the same push again: applied', async () => {
    const before = await image();
    const digest = await newImage();
    failWrites('PATCH', deployment.path, 500, 5);
    const { error } = await push(digest, 3);
    expect(error).toMatch(/^patch Deployment kubeflow\/kubeflow-metadata failed: 500 after 5 attempts/);
    expect(await image()).toBe(before); // (the state holds the claim: the next step sees the Deployment behind and repairs)
    expect((await push(digest, 3)).report?.status).toEqual(active);
    expect(await image()).toBe(`${proxy.host}/${REPOSITORY}@${digest}`);
  }, 30_000);

  it('the state write forbidden (403): the step fails naming it; the same push again records it', async () => {
    const digest = await newImage();
    failWrites('PATCH', /\/configmaps\/kubeflow-metadata-deployer-state$/, 403, 1);
    const { error } = await push(digest, 4);
    expect(error).toMatch(/^patch ConfigMap kubeflow\/kubeflow-metadata-deployer-state failed: 403 Forbidden/);
    expect(await stateOf()).not.toContain(digest);
    expect((await push(digest, 4)).report?.status).toEqual(active);
    expect(await stateOf()).toContain(digest);
    expect(await image()).toBe(`${proxy.host}/${REPOSITORY}@${digest}`);
  });

  it('a 429 with Retry-After and slow answers: retried and applied', async () => {
    const digest = await newImage();
    failWrites('PATCH', deployment.path, 429, 1, 1);
    kube.delayNext(300, { count: 3 });
    const started = Date.now();
    const { report } = await push(digest, 5);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000); // Retry-After: 1 was honoured
    expect(report?.status).toEqual(active);
    expect(await image()).toBe(`${proxy.host}/${REPOSITORY}@${digest}`);
  });

  it('the API server refuses connections: the step fails naming the call; back up: the same push applied', async () => {
    const [before, digest] = [await image(), await newImage()];
    await kube.refuse();
    const failed = await step({ hook: 'upgrade-charm', pushes: [{ provider: 'distribution', repository: REPOSITORY, tag: 'v1', digest, pushedAt: '2030-01-01T00:00:06Z' }] })
      .finally(() => kube.resume());
    expect(failed.error).toMatch(/^read \w+ kubeflow\/kubeflow-metadata[\w-]* failed: ECONNREFUSED after 5 attempts/);
    expect(await image()).toBe(before);
    expect((await push(digest, 6)).report?.status).toEqual(active);
    expect(await image()).toBe(`${proxy.host}/${REPOSITORY}@${digest}`);
  }, 30_000);

  it('an answer that never comes (the request times out) and a dropped connection: retried, applied', async () => {
    const digest = await newImage();
    kube.hangNext(deployment);
    kube.dropNext(deployment);
    const mark = kube.requests.length;
    const { report } = await push(digest, 7);
    expect(report?.status).toEqual(active);
    expect(await image()).toBe(`${proxy.host}/${REPOSITORY}@${digest}`);
    expect(kube.requests.slice(mark).map((r) => r.injected).filter(Boolean)).toEqual(['hang', 'drop']);
  }, 60_000);

  it('the server applied the Deployment but the answer was lost: the push still ends applied, never moved back', async () => {
    const digest = await newImage();
    const mark = (await cp.writeRequests()).length;
    kube.dropAnswerNext(deployment);
    const { report } = await push(digest, 8);
    expect(report?.status).toEqual(active);
    const wanted = `${proxy.host}/${REPOSITORY}@${digest}`;
    expect(await image()).toBe(wanted);
    // What the server stored (audit log), in order: once at the new image, it stays there.
    const images = (await cp.writeRequests()).slice(mark)
      .filter((e) => e.objectRef?.resource === 'deployments' && e.responseStatus?.code === 200)
      .map((e) => (e.responseObject as any)?.spec?.template?.spec?.containers?.[0]?.image as string);
    expect(images).toContain(wanted);
    expect(images.slice(images.indexOf(wanted)).every((i) => i === wanted)).toBe(true);
  }, 60_000);

  it('a password rotation whose Secret patch fails: the step fails, the pods keep the old revision; retried: applied', async () => {
    const revision = async () => JSON.stringify((await find('Deployment', 'kubeflow-metadata')).spec.template.metadata);
    const before = await revision();
    failWrites('PATCH', /\/secrets\/kubeflow-metadata-mysql$/, 500, 5);
    const { error } = await config('faults-mysql-password-2');
    expect(error).toMatch(/^patch Secret kubeflow\/kubeflow-metadata-mysql failed: 500 after 5 attempts/);
    expect(await revision()).toBe(before);
    const { report } = await config('faults-mysql-password-2');
    expect(report?.status).toEqual(active);
    expect(report?.failures).toEqual({});
    expect(await revision()).not.toBe(before);
  }, 30_000);
});
