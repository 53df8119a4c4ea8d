// Issue 10 "Proof 1": twelve pushes of increasing versions delivered at once, spread over two server
// processes (two warm containers, each with its own in-process queue and worker) against one real
// API server, as the RBAC-bound deployer, with real digests from a real registry. The Deployment's
// image sequence, as the API server stored it (the audit log records every Deployment write with its
// response), must never go backwards in semver order, and must end on the newest version.
// The servers reach the API server through a proxy that holds every state (ConfigMap) write for a
// while: a slow write of the state is the window in which a step computed from a stale state would
// write the Deployment (the claim, written first, closes it). Without the claim this test fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startControlPlane, REPO_ROOT, type ControlPlane } from './support/control-plane.js';
import { freePort, pushImage, startRegistry, type TestRegistry } from './support/registry.js';
import { watchSecrets } from './support/leak-guard.js';
import { testCredentials } from './support/local-app.js';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** One credential per power (DESIGN §5): every server process gets all six. */
const CREDENTIALS = testCredentials('race');
const MYSQL_PASSWORD = 'race-mysql-password';
const AUTH = { username: 'race-robot', password: 'race-registry-password' };
watchSecrets(...Object.values(CREDENTIALS), MYSQL_PASSWORD, AUTH.password);
const REPOSITORY = 'kubeflow/metadata';
const VERSIONS = Array.from({ length: 12 }, (_, i) => `1.${i}.0`);
const DIST = 'application/vnd.docker.distribution.events.v1+json';

let cp: ControlPlane;
let registry: TestRegistry;
let proxy: FaultProxy;
let kubeconfig: string;
const servers: Array<{ child: ChildProcess; url: string; output: string[] }> = [];
const digests = new Map<string, string>();

async function startServer(): Promise<(typeof servers)[number]> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/serve.ts'], {
    cwd: REPO_ROOT,
    env: {
      ...process.env, PORT: String(port), KFM_TARGET: 'kubernetes', KUBECONFIG: kubeconfig,
      ...CREDENTIALS, KFM_IMAGE: `${registry.host}/${REPOSITORY}:1.0.0`, KFM_TAG_POLICY: 'semver:^1',
      KFM_REGISTRY_AUTH: JSON.stringify({ [registry.host]: AUTH }), KFM_OFFLINE: 'false',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  child.stdout?.on('data', (chunk) => output.push(String(chunk)));
  child.stderr?.on('data', (chunk) => output.push(String(chunk)));
  const url = `http://127.0.0.1:${port}`;
  const end = Date.now() + 30_000;
  while (!output.join('').includes('serving on')) {
    if (Date.now() > end || child.exitCode !== null) throw new Error(`server did not start:\n${output.join('')}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, url, output };
}

/** Each route's own Bearer: the config secret on /webhooks/config, the push secret on the registry routes. */
const bearerFor = (path: string) => (path === '/webhooks/config' ? CREDENTIALS.KFM_CONFIG_SECRET : CREDENTIALS.KFM_WEBHOOK_SECRET);
const post = (url: string, path: string, body: string, type = 'application/json', secret = bearerFor(path)) =>
  fetch(`${url}${path}`, { method: 'POST', body, headers: { authorization: `Bearer ${secret}`, 'content-type': type } });
const readStatus = (url: string, secret: string = CREDENTIALS.KFM_STATUS_TOKEN) => fetch(`${url}/status`, { headers: { authorization: `Bearer ${secret}` } });
const status = async (url: string) => (await (await readStatus(url)).json()) as any;

function distributionPush(version: string, index: number): string {
  return JSON.stringify({ events: [{
    id: `race-${index}`, timestamp: new Date(Date.UTC(2026, 0, 1, 0, 0, index)).toISOString(), action: 'push',
    target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 500, digest: digests.get(version), repository: REPOSITORY, tag: version },
    request: { id: `r${index}`, host: registry.host, method: 'PUT', useragent: 'race-test' },
  }] });
}

beforeAll(async () => {
  [cp, registry] = await Promise.all([startControlPlane(), startRegistry({ auth: AUTH })]);
  await cp.applyDeployerRbac();
  proxy = await startFaultProxy({ upstream: cp.server, pki: cp.pki });
  proxy.delayNext(60, { path: /\/configmaps/, method: 'PATCH', count: 1_000 });
  kubeconfig = join(cp.stateDir, 'race-proxy.kubeconfig');
  await writeFile(kubeconfig, proxy.kubeconfig());
  for (const version of VERSIONS) digests.set(version, await pushImage(registry, { repository: REPOSITORY, tag: version, mediaType: 'oci' }));
  servers.push(await startServer(), await startServer());
}, 120_000);
afterAll(async () => {
  for (const server of servers) server.child.kill('SIGTERM');
  await Promise.all(servers.map((server) => (server.child.exitCode === null ? new Promise((resolve) => server.child.once('exit', resolve)) : undefined)));
  await proxy?.stop();
  await Promise.all([cp?.stop(), registry?.stop()]);
});

describe('twelve pushes at once over two processes', () => {
  it('never write the Deployment backwards, and end on the newest image', async () => {
    const [a, b] = servers as [(typeof servers)[number], (typeof servers)[number]];
    const mysql = JSON.stringify({ relations: { mysql: { host: 'mysql', port: 3306, password: MYSQL_PASSWORD } } });
    // Each process takes only each power's own credential: the push secret neither configures nor reads.
    for (const server of [a, b]) {
      expect((await post(server.url, '/webhooks/config', mysql, 'application/json', CREDENTIALS.KFM_WEBHOOK_SECRET)).status).toBe(401);
      expect((await readStatus(server.url, CREDENTIALS.KFM_WEBHOOK_SECRET)).status).toBe(401);
      expect((await readStatus(server.url)).status).toBe(200);
      // Every credential was set: serve.ts warned of none.
      expect(server.output.join('')).not.toMatch(/is not set/);
    }
    const config = await post(a.url, '/webhooks/config', mysql);
    expect(config.status).toBe(202);
    // A shuffled order, alternating processes: both race for the same state.
    const order = VERSIONS.map((version, index) => ({ version, index })).sort(() => Math.random() - 0.5);
    const answers = await Promise.all(order.map(({ version, index }, n) => post((n % 2 ? b : a).url, '/webhooks/registry/distribution', distributionPush(version, index), DIST)));
    expect(answers.map((answer) => answer.status)).toEqual(order.map(() => 202));
    const ids = await Promise.all(answers.map(async (answer) => ((await answer.json()) as { accepted: string }).accepted));

    // Both queues drained: every accepted id has an outcome in one of the two processes' views.
    const newest = digests.get(VERSIONS.at(-1)!)!;
    const end = Date.now() + 90_000;
    for (;;) {
      const views = await Promise.all([status(a.url), status(b.url)]);
      const seen = new Set(views.flatMap((view) => view.recent.map((entry: { id: string }) => entry.id)));
      // The state is claimed before the Deployment is written: wait for the Deployment itself.
      const live = await cp.kubectl(['-n', 'kubeflow', 'get', 'deployment', 'kubeflow-metadata', '-o', 'jsonpath={.spec.template.spec.containers[0].image}'], { as: 'admin' });
      if (live.stdout.endsWith(newest) && ids.every((id) => seen.has(id))) break;
      if (Date.now() > end) throw new Error(`not settled: ${JSON.stringify(views.map((view) => view.recent))}\n${a.output.join('')}${b.output.join('')}`);
      await new Promise((resolve) => setTimeout(resolve, 250));
    }

    const rank = new Map([...digests].map(([version, digest]) => [digest, VERSIONS.indexOf(version)]));
    const writes = (await cp.writeRequests()).filter((event) => event.objectRef?.resource === 'deployments' && (event.responseStatus?.code ?? 0) < 300);
    const images = writes.map((event) => (event.responseObject as any)?.spec?.template?.spec?.containers?.[0]?.image as string);
    const ranks = images.map((image) => rank.get(image.slice(image.indexOf('@') + 1)) ?? -1);
    expect(ranks.length).toBeGreaterThan(0);
    for (let i = 1; i < ranks.length; i++) expect([i, ranks[i]! >= ranks[i - 1]!]).toEqual([i, true]);
    expect(ranks.at(-1)).toBe(VERSIONS.length - 1);
  }, 150_000);
});
