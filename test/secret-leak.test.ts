// Secret leaks: a full scenario through the local server and the real handlers
// (config with a MySQL password, pushes looked up in a REAL registry with
// htpasswd credentials from KFM_REGISTRY_AUTH, a failed lookup, 401s, 400s,
// a password rotation, status). No secret — plain, or base64 at any byte
// alignment — may appear in a log line, a response body, a step's report, or the stored
// Deployment, Service or state ConfigMap. The Secrets themselves must hold
// them (the positive control: the detector finds what is there).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startLocalApp, type LocalApp } from './support/local-app.js';
import { pushImage, startRegistry, type TestRegistry } from './support/registry.js';
import { leaksIn as leaksInText } from './support/leak-guard.js';

/** One credential per power (DESIGN §5), each ≥ 32 bytes and its own. */
const CREDENTIALS = {
  KFM_WEBHOOK_SECRET: 'leak-webhook-Secret-q7Z3x9K2p-4d8e1a6c',
  KFM_DOCKERHUB_TOKEN: 'leak-dockerhub-Token-m2V8c5J1w-7b3f90e2',
  KFM_QUAY_TOKEN: 'leak-quay-Token-t6N4b8R3y-1c5e7a9d0f2b',
  KFM_CONFIG_SECRET: 'leak-config-Secret-h9K2d7Q4s-6a1e3c8f5b',
  KFM_CONTROL_SECRET: 'leak-control-Secret-p3W7f1L6z-9d2b4e8a0',
  KFM_STATUS_TOKEN: 'leak-status-Token-x5G9j2T8v-3f7c1a6e4d9',
};
const WEBHOOK_SECRET = CREDENTIALS.KFM_WEBHOOK_SECRET;
const MYSQL_PASSWORD = 'leak-mysql-Pw-R4nd0m-8e2b';
const MYSQL_PASSWORD_2 = 'leak-mysql-Rotated-Pw-91fa';
const REGISTRY_USER = 'leakuser';
const REGISTRY_PASSWORD = 'leak-registry-Pw-5c1d7f';
const SECRETS = [...Object.values(CREDENTIALS), MYSQL_PASSWORD, MYSQL_PASSWORD_2, REGISTRY_PASSWORD, `${REGISTRY_USER}:${REGISTRY_PASSWORD}`];
const REPOSITORY = 'kubeflow/metadata';
const DIST = 'application/vnd.docker.distribution.events.v1+json';

const leaksIn = (text: string) => leaksInText(text, SECRETS);

let registry: TestRegistry;
let app: LocalApp;
const responses: Array<{ what: string; text: string }> = [];
const auth = { authorization: `Bearer ${WEBHOOK_SECRET}` };
const configAuth = { authorization: `Bearer ${CREDENTIALS.KFM_CONFIG_SECRET}` };
const statusAuth = { authorization: `Bearer ${CREDENTIALS.KFM_STATUS_TOKEN}` };
const json = { 'content-type': 'application/json' };

/** One request, the queue drained: the answer and the worker's report both go to `responses`. */
async function call(what: string, method: string, path: string, body?: string, headers: Record<string, string> = {}) {
  const answer = await app.deliver(method, path, body, headers);
  responses.push({ what, text: answer.text });
  if (answer.report) responses.push({ what: `${what} (step report)`, text: JSON.stringify(answer.report) });
  return answer;
}
let bogusId: string;
const distribution = (digest: string, second: number) => JSON.stringify({
  events: [{ id: `leak-${second}`, timestamp: new Date(Date.UTC(2030, 0, 1, 0, 0, second)).toISOString(), action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 500, digest, repository: REPOSITORY, tag: 'v1' } }],
});
const stored = (file: string) => readFile(join(app.dir, 'kubeflow', file), 'utf8');

beforeAll(async () => {
  registry = await startRegistry({ auth: { username: REGISTRY_USER, password: REGISTRY_PASSWORD } });
  await pushImage(registry, { repository: REPOSITORY, tag: 'v1', mediaType: 'oci' });
  app = await startLocalApp({
    ...CREDENTIALS, KFM_OFFLINE: 'false', KFM_IMAGE: `${registry.host}/${REPOSITORY}:v1`, KFM_TAG_POLICY: 'track',
    KFM_REGISTRY_AUTH: JSON.stringify({ [registry.host]: { username: REGISTRY_USER, password: REGISTRY_PASSWORD } }),
  });
}, 30_000);
afterAll(async () => {
  await app?.stop();
  await registry?.stop();
});

describe('a full scenario', () => {
  it('config with the MySQL password: active, the image pulled with the registry credentials', async () => {
    expect((await call('status before', 'GET', '/status', undefined, statusAuth)).status).toBe(200);
    expect((await call('status with the push secret', 'GET', '/status', undefined, auth)).status).toBe(401);
    const body = JSON.stringify({ config: { port: 8080 }, relations: { mysql: { host: 'mysql', port: 3306, password: MYSQL_PASSWORD } } });
    // The push secret cannot reconfigure: refused, nothing stored.
    const byPush = await call('config with the push secret', 'POST', '/webhooks/config', body, { ...auth, ...json });
    expect(byPush.status).toBe(401);
    expect(byPush.report).toBeUndefined();
    expect(await app.object('Deployment', 'kubeflow-metadata')).toBeUndefined();
    const config = await call('config', 'POST', '/webhooks/config', body, { ...configAuth, ...json });
    expect(config.status).toBe(202);
    expect(config.report).toMatchObject({ id: config.json.accepted, outcome: 'applied', status: { state: 'active', message: '' } });
    const deployment = await app.object('Deployment', 'kubeflow-metadata');
    expect(deployment.spec.template.spec.imagePullSecrets).toEqual([{ name: 'kubeflow-metadata-registry' }]);
  });

  it('pushes looked up in the registry (Bearer, and a signed generic push)', async () => {
    const second = await pushImage(registry, { repository: REPOSITORY, tag: 'v1', mediaType: 'oci' });
    const push = await call('push', 'POST', '/webhooks/registry/distribution', distribution(second, 1), { ...auth, 'content-type': DIST });
    expect(push.status).toBe(202);
    expect(push.report?.outcome).toBe('applied');
    expect((await app.object('Deployment', 'kubeflow-metadata')).spec.template.spec.containers[0].image).toBe(`${registry.host}/${REPOSITORY}@${second}`);
    const third = await pushImage(registry, { repository: REPOSITORY, tag: 'v1', mediaType: 'docker' });
    const body = JSON.stringify({ repository: REPOSITORY, tag: 'v1', digest: third, pushedAt: '2030-01-01T00:00:02Z' });
    const signature = `sha256=${createHmac('sha256', WEBHOOK_SECRET).update(body).digest('hex')}`;
    const signed = await call('signed push', 'POST', '/webhooks/registry/generic', body, { ...json, 'x-signature': signature });
    expect(signed.status).toBe(202);
    expect(signed.report).toMatchObject({ outcome: 'applied', status: { state: 'active', message: '' } });
    expect((await app.object('Deployment', 'kubeflow-metadata')).spec.template.spec.containers[0].image).toBe(`${registry.host}/${REPOSITORY}@${third}`);
  });

  it('a digest the registry does not have: ignored, with the reason, and nothing written', async () => {
    const before = await app.fingerprint();
    const push = await call('failed lookup', 'POST', '/webhooks/registry/distribution', distribution(`sha256:${'0'.repeat(64)}`, 3), { ...auth, 'content-type': DIST });
    expect(push.status).toBe(202);
    expect(push.report).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining(`the registry has no manifest sha256:${'0'.repeat(64)}`), changes: [] });
    expect(await app.fingerprint()).toBe(before);
    bogusId = push.json.accepted;
  }, 20_000);

  it('401s: near-miss secrets, bad signatures and URL tokens are refused without echoing anything', async () => {
    const near = (secret: string) => `${secret.slice(0, -1)}X`;
    const refused = [
      await call('near-miss Bearer', 'POST', '/webhooks/config', '{}', { authorization: `Bearer ${near(CREDENTIALS.KFM_CONFIG_SECRET)}`, ...json }),
      await call('the Docker Hub token as the config Bearer', 'POST', '/webhooks/config', '{}', { authorization: `Bearer ${CREDENTIALS.KFM_DOCKERHUB_TOKEN}`, ...json }),
      await call('secret as Basic', 'GET', '/status', undefined, { authorization: `Basic ${Buffer.from(`x:${CREDENTIALS.KFM_STATUS_TOKEN}`).toString('base64')}` }),
      await call('near-miss status token', 'GET', '/status', undefined, { authorization: `Bearer ${near(CREDENTIALS.KFM_STATUS_TOKEN)}` }),
      await call('bad signature', 'POST', '/webhooks/registry/ghcr', '{}', { ...json, 'x-hub-signature-256': `sha256=${createHmac('sha256', near(WEBHOOK_SECRET)).update('{}').digest('hex')}` }),
      await call('signed with the config secret', 'POST', '/webhooks/registry/generic', '{}', { ...json, 'x-signature': `sha256=${createHmac('sha256', CREDENTIALS.KFM_CONFIG_SECRET).update('{}').digest('hex')}` }),
      await call('bad URL token', 'POST', `/webhooks/registry/dockerhub?token=${near(CREDENTIALS.KFM_DOCKERHUB_TOKEN)}`, '{}', json),
      await call('the Quay token on the Docker Hub route', 'POST', `/webhooks/registry/dockerhub?token=${CREDENTIALS.KFM_QUAY_TOKEN}`, '{}', json),
      await call('the push secret on the control route', 'POST', '/control', '{"suspend":true}', { ...auth, ...json }),
      await call('near-miss control secret', 'POST', '/control', '{"suspend":true}', { authorization: `Bearer ${near(CREDENTIALS.KFM_CONTROL_SECRET)}`, ...json }),
      await call('status without credentials', 'GET', '/status'),
    ];
    expect(refused.map((answer) => answer.status)).toEqual(refused.map(() => 401));
  });

  it('400s: bodies carrying the password next to a mistake name the field, not the value', async () => {
    const mysql = { host: 'mysql', port: 3306, password: MYSQL_PASSWORD };
    const bad = [
      [{ relations: { mysql: { ...mysql, port: '3306' } } }, 'relations.mysql.port'],
      [{ relations: { mysql: { ...mysql, pasword: MYSQL_PASSWORD } } }, 'relations.mysql.pasword'],
      [{ relations: { mysql: { ...mysql, password: MYSQL_PASSWORD.repeat(50) } } }, 'relations.mysql.password'],
      [{ relations: { mysql: { ...mysql, host: MYSQL_PASSWORD.replace(/-/g, ' ') } } }, 'relations.mysql.host'],
    ] as const;
    for (const [body, field] of bad) {
      const answer = await call(`400 ${field}`, 'POST', '/webhooks/config', JSON.stringify(body), { ...configAuth, ...json });
      expect({ status: answer.status, field: answer.json.field }).toEqual({ status: 400, field });
    }
    const truncated = await call('400 truncated', 'POST', '/webhooks/config', JSON.stringify({ relations: { mysql } }).slice(0, -3), { ...configAuth, ...json });
    expect({ status: truncated.status, field: truncated.json.field }).toEqual({ status: 400, field: 'body' });
  });

  it('a password rotation restarts the pods through the Secret, and the state says nothing of it', async () => {
    const config = await call('rotation', 'POST', '/webhooks/config', JSON.stringify({ relations: { mysql: { host: 'mysql', port: 3306, password: MYSQL_PASSWORD_2 } } }), { ...configAuth, ...json });
    expect(config.status).toBe(202);
    expect(config.report?.changes).toEqual(expect.arrayContaining([{ kind: 'Secret', name: 'kubeflow-metadata-mysql', outcome: 'patched' }]));
    expect(config.report?.status).toEqual({ state: 'active', message: '' });
    const status = await call('status after', 'GET', '/status', undefined, statusAuth);
    expect(status.status).toBe(200);
    // The bogus push's outcome, held in memory, was stored with this write (and says nothing secret: checked below).
    const state = JSON.parse((await app.object('ConfigMap', 'kubeflow-metadata-deployer-state')).data['state.json']);
    expect(state.recent).toEqual(expect.arrayContaining([expect.objectContaining({ id: bogusId, outcome: 'ignored' }), expect.objectContaining({ id: config.json.accepted, outcome: 'applied' })]));
  });
});

describe('no secret leaked', () => {
  it('the detector finds them where they belong: the MySQL and registry Secrets', async () => {
    expect(leaksIn(await stored('secret-kubeflow-metadata-mysql.yaml')).some((leak) => leak.startsWith(MYSQL_PASSWORD_2))).toBe(true);
    expect(leaksIn(await stored('secret-kubeflow-metadata-registry.yaml')).some((leak) => leak.startsWith(REGISTRY_PASSWORD))).toBe(true);
    expect(leaksIn(`log ${Buffer.from(`{"password":"${MYSQL_PASSWORD}"}`).toString('base64')}`)).not.toEqual([]);
  });

  it.each(['deployment-kubeflow-metadata.yaml', 'service-kubeflow-metadata.yaml', 'configmap-kubeflow-metadata-deployer-state.yaml'])('the stored %s holds none', async (file) => {
    expect(leaksIn(await stored(file))).toEqual([]);
  });

  it('no response body holds one', () => {
    expect(responses.length).toBeGreaterThanOrEqual(30); // 25 answers, 5 step reports
    expect(responses.flatMap(({ what, text }) => leaksIn(text).map((leak) => `${what}: ${leak}`))).toEqual([]);
  });

  it('no log line holds one', () => {
    expect(app.logs.length).toBeGreaterThan(5);
    expect(app.logs.flatMap((line) => leaksIn(line).map((leak) => `${leak} in ${line.slice(0, 200)}`))).toEqual([]);
  });
});
