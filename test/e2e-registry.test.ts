// Issue 3 against a real CNCF distribution registry (Debian's docker-registry)
// whose notifications point at the local server: pushes over the v2 API roll
// the workload, digests are looked up in the registry with htpasswd
// credentials, and everything else the registry sends changes nothing.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { freePort, pushImage, startRegistry, type TestRegistry } from './support/registry.js';
import { startLocalApp, testCredentials, type LocalApp } from './support/local-app.js';

/** One credential per power (DESIGN §5): the registry is given only the push secret. */
const CREDENTIALS = testCredentials('registry-e2e');
const SECRET = CREDENTIALS.KFM_WEBHOOK_SECRET;
const MYSQL_PASSWORD = 'registry-e2e-mysql-pw';
const REGISTRY_AUTH = { username: 'ci-robot', password: 'registry-e2e-registry-pw' };
const REPOSITORY = 'kubeflow/metadata';
const DIST = 'application/vnd.docker.distribution.events.v1+json';

let registry: TestRegistry;
let app: LocalApp;

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
const deployedImage = async () => (await app.object('Deployment', 'kubeflow-metadata'))?.spec.template.spec.containers[0].image as string | undefined;
const waitForImage = (digest: string) =>
  until(async () => ((await deployedImage())?.endsWith(digest) ? true : undefined), `the Deployment to run ${digest}`);

beforeAll(async () => {
  const port = await freePort();
  registry = await startRegistry({
    auth: REGISTRY_AUTH,
    notifications: { url: `http://127.0.0.1:${port}/webhooks/registry/distribution`, headers: { Authorization: `Bearer ${SECRET}` } },
  });
  app = await startLocalApp({
    ...CREDENTIALS,
    KFM_OFFLINE: 'false',
    KFM_IMAGE: `${registry.host}/${REPOSITORY}:v1`,
    KFM_REGISTRY_AUTH: JSON.stringify({ [registry.host]: REGISTRY_AUTH }),
  }, { port });
}, 30_000);
afterAll(async () => {
  await registry?.stop();
  await app?.stop();
});

describe('a real distribution registry notifying the local server', () => {
  let first: string;

  it('a push of the tracked tag, then the MySQL relation: active on the pushed digest', async () => {
    first = await pushImage(registry, { repository: REPOSITORY, tag: 'v1', mediaType: 'oci' });
    await until(async () => ((await app.request('GET', '/status', undefined, app.auth('status'))).json.resources['oci-image']?.digest === first ? true : undefined), 'the push to be fetched');
    const mysql = JSON.stringify({ relations: { mysql: { host: 'mysql', port: 3306, password: MYSQL_PASSWORD } } });
    // What the registry holds (the push secret) can neither reconfigure nor read the status.
    const byPush = await app.deliver('POST', '/webhooks/config', mysql, { authorization: `Bearer ${SECRET}`, 'content-type': 'application/json' });
    expect(byPush.status).toBe(401);
    expect(byPush.report).toBeUndefined();
    expect((await app.request('GET', '/status', undefined, { authorization: `Bearer ${SECRET}` })).status).toBe(401);
    const config = await app.deliver('POST', '/webhooks/config', mysql, { ...app.auth('config'), 'content-type': 'application/json' });
    expect(config.status).toBe(202);
    expect(config.report).toMatchObject({ id: config.json.accepted, outcome: 'applied', status: { state: 'active', message: '' } });
    expect(await deployedImage()).toBe(`${registry.host}/${REPOSITORY}@${first}`);
    // credentials reached the pull Secret, and the Deployment references it
    const pullSecret = await app.object('Secret', 'kubeflow-metadata-registry');
    const config_ = JSON.parse(Buffer.from(pullSecret.data['.dockerconfigjson'], 'base64').toString());
    expect(config_.auths[registry.host]).toMatchObject(REGISTRY_AUTH);
    expect((await app.object('Deployment', 'kubeflow-metadata')).spec.template.spec.imagePullSecrets).toEqual([{ name: 'kubeflow-metadata-registry' }]);
  });

  it('a new push of the tag (docker media type) rolls the Deployment to the new digest', async () => {
    const second = await pushImage(registry, { repository: REPOSITORY, tag: 'v1', mediaType: 'docker' });
    expect(second).not.toBe(first);
    await waitForImage(second);
    first = second;
  });

  it('the pull and blob notifications (the deployer’s own lookups included) were answered 202 and changed nothing', async () => {
    const lines = app.logs.join('').split('\n').filter(Boolean).map((line) => JSON.parse(line));
    const ignored = lines.filter((line) => line.message === 'push ignored').flatMap((line) => line.reasons ?? line.ignored ?? []);
    expect(ignored.some((reason: string) => /: pull$/.test(reason))).toBe(true);
    expect(ignored.some((reason: string) => /blob push/.test(reason))).toBe(true);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((line) => typeof line.level === 'string')).toBe(true);
    // Powertools writes the levels upper case ("ERROR"): compare without case, so the check really checks.
    expect(lines.filter((line) => /^(error|critical|fatal)$/i.test(line.level))).toEqual([]);
  });

  it('other tags, other repositories and pushes by digest change nothing', async () => {
    await app.drain();
    const before = await app.fingerprint();
    await pushImage(registry, { repository: REPOSITORY, tag: 'v2', mediaType: 'oci' });
    await pushImage(registry, { repository: 'someone/else', tag: 'v1', mediaType: 'oci' });
    await pushImage(registry, { repository: REPOSITORY, mediaType: 'oci' });
    await new Promise((resolve) => setTimeout(resolve, 1500)); // let the notifications arrive
    await app.drain(); // and anything they queued be applied
    expect(await app.fingerprint()).toBe(before);
    expect(await deployedImage()).toBe(`${registry.host}/${REPOSITORY}@${first}`);
  });

  it('a forged payload digest (not in the registry) is refused: ignored with the reason, nothing written', async () => {
    await app.drain();
    const before = (await app.object('Deployment', 'kubeflow-metadata')).spec;
    const stamps = await app.fingerprint();
    const forgedDigest = `sha256:${'f'.repeat(64)}`;
    const forged = { id: 'forged', timestamp: new Date().toISOString(), action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1, digest: forgedDigest, repository: REPOSITORY, tag: 'v1' } };
    const response = await app.deliver('POST', '/webhooks/registry/distribution', JSON.stringify({ events: [forged] }), { authorization: `Bearer ${SECRET}`, 'content-type': DIST });
    expect(response.status).toBe(202);
    expect(response.report).toMatchObject({ id: response.json.accepted, outcome: 'ignored', reason: expect.stringContaining(`the registry has no manifest ${forgedDigest}`) });
    expect(response.report?.changes).toEqual([]);
    expect((await app.object('Deployment', 'kubeflow-metadata')).spec).toEqual(before);
    expect(await app.fingerprint()).toBe(stamps);
    const status = await app.request('GET', '/status', undefined, app.auth('status'));
    expect(status.json.status).toEqual({ state: 'active', message: '' }); // a bogus event changes no state
    expect(status.json.resources['oci-image'].digest).toBe(first);
    expect(status.json.recent).toEqual(expect.arrayContaining([expect.objectContaining({ id: response.json.accepted, outcome: 'ignored', reason: expect.stringContaining('the registry has no manifest') })]));
  }, 20_000);

  it('the next real push is deployed after the forged one', async () => {
    const third = await pushImage(registry, { repository: REPOSITORY, tag: 'v1', mediaType: 'oci' });
    await waitForImage(third);
    const status = await app.request('GET', '/status', undefined, app.auth('status'));
    expect(status.json.status).toEqual({ state: 'active', message: '' });
    first = third;
  });

  it('an older push delivered late (a replayed event) does not roll back', async () => {
    const older = { id: 'late', timestamp: '2020-01-01T00:00:00Z', action: 'push', target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1, digest: first.replace(/.$/, (c) => (c === '0' ? '1' : '0')), repository: REPOSITORY, tag: 'v1' } };
    await app.drain();
    const before = await app.fingerprint();
    const response = await app.deliver('POST', '/webhooks/registry/distribution', JSON.stringify({ events: [older] }), { authorization: `Bearer ${SECRET}`, 'content-type': DIST });
    expect(response.status).toBe(202);
    expect(response.report).toMatchObject({ id: response.json.accepted, outcome: 'ignored', reason: expect.stringMatching(/older than the deployed/) });
    expect(await app.fingerprint()).toBe(before);
    expect(await deployedImage()).toBe(`${registry.host}/${REPOSITORY}@${first}`);
  });

  it('a registry sending the wrong webhook secret changes nothing', async () => {
    const port = await freePort();
    const rogue = await startRegistry({ auth: REGISTRY_AUTH, notifications: { url: `${app.url}/webhooks/registry/distribution`, headers: { Authorization: 'Bearer not-the-secret-000000' } } });
    try {
      await app.drain();
      const before = await app.fingerprint();
      await pushImage(rogue, { repository: REPOSITORY, tag: 'v1', mediaType: 'oci' });
      await new Promise((resolve) => setTimeout(resolve, 1500));
      await app.drain();
      expect(await app.fingerprint()).toBe(before);
    } finally {
      await rogue.stop();
    }
    void port;
  });

  it('no secret reached the logs or the Deployment', async () => {
    const logs = app.logs.join('');
    for (const secret of [...Object.values(CREDENTIALS), MYSQL_PASSWORD, REGISTRY_AUTH.password]) {
      expect(logs).not.toContain(secret);
      expect(JSON.stringify(await app.object('Deployment', 'kubeflow-metadata'))).not.toContain(secret);
    }
  });
});
