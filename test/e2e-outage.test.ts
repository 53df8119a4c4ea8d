// Issue 10: webhooks are answered 202 at once while the cluster is unreachable, and applied once it is
// back. The local server (intake, in-process queue, worker) reaches a real API server through a proxy
// that refuses connections for a while; the registry is real, so the digest is looked up for real.
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startControlPlane, type ControlPlane } from './support/control-plane.js';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.js';
import { pushImage, startRegistry, type TestRegistry } from './support/registry.js';
import { startLocalApp, testCredentials, type LocalApp } from './support/local-app.js';

/** One credential per power (DESIGN §5). */
const CREDENTIALS = testCredentials('outage');
const AUTH = { username: 'outage-robot', password: 'outage-registry-password' };
const MYSQL_PASSWORD = 'outage-mysql-password';
const REPOSITORY = 'kubeflow/metadata';
let cp: ControlPlane;
let registry: TestRegistry;
let proxy: FaultProxy;
let app: LocalApp;

beforeAll(async () => {
  [cp, registry] = await Promise.all([startControlPlane(), startRegistry({ auth: AUTH })]);
  await cp.applyDeployerRbac();
  await pushImage(registry, { repository: REPOSITORY, tag: '1.0.0', mediaType: 'oci' });
  proxy = await startFaultProxy({ upstream: cp.server, pki: cp.pki });
  const kubeconfig = join(cp.stateDir, 'outage-proxy.kubeconfig');
  await writeFile(kubeconfig, proxy.kubeconfig());
  app = await startLocalApp({
    ...CREDENTIALS, KFM_TARGET: 'kubernetes', KUBECONFIG: kubeconfig, KFM_OFFLINE: 'false',
    KFM_IMAGE: `${registry.host}/${REPOSITORY}:1.0.0`, KFM_REGISTRY_AUTH: JSON.stringify({ [registry.host]: AUTH }),
  });
}, 120_000);
afterAll(async () => {
  await app?.stop();
  await proxy?.stop();
  await Promise.all([cp?.stop(), registry?.stop()]);
});

describe('a cluster that is unreachable for a while', () => {
  it('gets the event 202 at once, and applied once it is back', async () => {
    await proxy.refuse();
    const body = JSON.stringify({ relations: { mysql: { host: 'mysql', port: 3306, password: MYSQL_PASSWORD } } });
    // The push secret cannot reconfigure: refused at once, nothing queued.
    const byPush = await app.request('POST', '/webhooks/config', body, { ...app.auth('push'), 'content-type': 'application/json' });
    expect(byPush.status).toBe(401);
    const answer = await app.request('POST', '/webhooks/config', body, { ...app.auth('config'), 'content-type': 'application/json' });
    expect(answer.status).toBe(202);
    expect(answer.json.accepted).toMatch(/^config-/);
    // Answered 202 while every connection to the cluster is refused: intake never waits for it
    // (its answer time is a bench figure, not a test's).
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    expect((await cp.kubectl(['-n', 'kubeflow', 'get', 'deployment', 'kubeflow-metadata'], { as: 'admin' })).code).not.toBe(0);
    await proxy.resume();
    await app.drain();
    const report = app.reports.get(answer.json.accepted);
    expect(report?.outcome).toBe('applied');
    const deployment = await cp.kubectl(['-n', 'kubeflow', 'get', 'deployment', 'kubeflow-metadata', '-o', 'json'], { as: 'admin' });
    expect(deployment.code).toBe(0);
    expect(JSON.parse(deployment.stdout).spec.template.spec.containers[0].image).toContain(`${registry.host}/${REPOSITORY}@sha256:`);
    expect((await app.request('GET', '/status', undefined, app.auth('push'))).status).toBe(401);
    const status = await app.request('GET', '/status', undefined, app.auth('status'));
    expect(status.status).toBe(200);
    expect(status.json.recent).toEqual(expect.arrayContaining([expect.objectContaining({ id: answer.json.accepted, outcome: 'applied' })]));
  }, 90_000);
});
