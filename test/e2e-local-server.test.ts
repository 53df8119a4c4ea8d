// Issue 2's walk-through, over HTTP against the local server and the real
// handlers, on the directory target (offline: the digest comes from the event).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { startLocalApp, testCredentials, type LocalApp } from './support/local-app.js';

/** One credential per power (DESIGN §5). */
const CREDENTIALS = testCredentials('e2e-local');
const SECRET = CREDENTIALS.KFM_WEBHOOK_SECRET;
const MYSQL_PASSWORD = 'e2e-mysql-Pa55word';
const digest = (c: string) => `sha256:${c.repeat(64)}`;
const auth = { authorization: `Bearer ${SECRET}` };
const configAuth = { authorization: `Bearer ${CREDENTIALS.KFM_CONFIG_SECRET}` };
const statusAuth = { authorization: `Bearer ${CREDENTIALS.KFM_STATUS_TOKEN}` };
const DIST = 'application/vnd.docker.distribution.events.v1+json';

function distribution(...events: object[]) {
  return JSON.stringify({ events });
}
const manifestPush = (d: string, tag = 'v0.1.8', repository = 'kubeflow-images-public/metadata', timestamp = '2026-01-01T00:00:00Z') => ({
  id: `id-${d.slice(7, 15)}`, timestamp, action: 'push',
  target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 500, digest: d, repository, tag },
  request: { id: 'r', host: 'gcr.io', method: 'PUT', useragent: 'test' },
});

let app: LocalApp;
beforeAll(async () => {
  app = await startLocalApp({ ...CREDENTIALS, KFM_OFFLINE: 'true' });
});
afterAll(async () => { await app.stop(); });

const post = (path: string, body: string, headers: Record<string, string> = {}) => app.request('POST', path, body, headers);
/** The request, then the queue drained: the answer and the worker's report of what it accepted. */
const deliver = (path: string, body: string, headers: Record<string, string> = {}) => app.deliver('POST', path, body, headers);
const image = async () => (await app.object('Deployment', 'kubeflow-metadata'))?.spec.template.spec.containers[0].image;
const recent = async (id: string) => ((await app.request('GET', '/status', undefined, statusAuth)).json.recent as Array<{ id: string; outcome: string; reason?: string }>).find((entry) => entry.id === id);

describe('the walking skeleton over HTTP', () => {
  it('a config change with MySQL data, then a push: active, pinned by digest', async () => {
    const mysqlBody = JSON.stringify({ relations: { mysql: { host: 'mysql', port: 3306, password: MYSQL_PASSWORD } } });
    // The push secret cannot reconfigure (DESIGN §5): refused, nothing queued or written.
    const byPush = await deliver('/webhooks/config', mysqlBody, { ...auth, 'content-type': 'application/json' });
    expect(byPush.status).toBe(401);
    expect(byPush.report).toBeUndefined();
    expect(app.reports.size).toBe(0);
    expect(await app.object('Deployment', 'kubeflow-metadata')).toBeUndefined();
    const config = await deliver('/webhooks/config', mysqlBody, { ...configAuth, 'content-type': 'application/json' });
    expect(config.status).toBe(202);
    expect(config.json.accepted).toMatch(/^config-/);
    expect(config.report).toMatchObject({ id: config.json.accepted, outcome: 'applied', status: { state: 'blocked', message: 'unable to fetch resource: oci-image' } });
    const push = await deliver('/webhooks/registry/distribution', distribution(manifestPush(digest('1'))), { ...auth, 'content-type': DIST });
    expect(push.status).toBe(202);
    expect(push.json.accepted).toMatch(/^push-/);
    expect(push.report).toMatchObject({ id: push.json.accepted, outcome: 'applied', status: { state: 'active', message: '' } });
    expect(await image()).toBe(`gcr.io/kubeflow-images-public/metadata@${digest('1')}`);
    const service = await app.object('Service', 'kubeflow-metadata');
    expect(service.spec.ports).toEqual([{ name: 'http', port: 8080, targetPort: 'http', protocol: 'TCP' }]);
    expect(await recent(push.json.accepted)).toMatchObject({ outcome: 'applied' });
  });

  it('a new digest for the tracked tag changes the image; the same push again writes nothing', async () => {
    const body = distribution(manifestPush(digest('2'), 'v0.1.8', 'kubeflow-images-public/metadata', '2026-01-02T00:00:00Z'));
    const first = await deliver('/webhooks/registry/distribution', body, { ...auth, 'content-type': DIST });
    expect(first.status).toBe(202);
    expect(first.report?.outcome).toBe('applied');
    expect(first.report?.changes).toEqual(expect.arrayContaining([{ kind: 'Deployment', name: 'kubeflow-metadata', outcome: 'patched' }]));
    expect(await image()).toBe(`gcr.io/kubeflow-images-public/metadata@${digest('2')}`);
    const before = await app.fingerprint();
    const stepsBefore = app.reports.size;
    // The registry redelivers the very same event: the same id, dropped by the queue's deduplication.
    const again = await deliver('/webhooks/registry/distribution', body, { ...auth, 'content-type': DIST });
    expect(again.status).toBe(202);
    expect(again.json.accepted).toBe(first.json.accepted);
    expect(app.reports.size).toBe(stepsBefore);
    expect(await app.fingerprint()).toBe(before);
    // The same tag and digest told another way (another id): the worker finds it already deployed.
    const generic = await deliver('/webhooks/registry/generic', JSON.stringify({ repository: 'kubeflow-images-public/metadata', tag: 'v0.1.8', digest: digest('2') }), { ...auth, 'content-type': 'application/json' });
    expect(generic.status).toBe(202);
    expect(generic.json.accepted).not.toBe(first.json.accepted);
    expect(generic.report?.outcome).toBe('ignored');
    expect(generic.report?.reason).toContain('already deployed');
    expect(generic.report?.ignored.join('; ')).toContain('already deployed');
    expect(generic.report?.changes.every((c: { outcome: string }) => c.outcome === 'unchanged')).toBe(true);
    expect(await app.fingerprint()).toBe(before);
    expect(await recent(generic.json.accepted)).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('already deployed') });
  });

  it.each([
    ['another repository', manifestPush(digest('3'), 'v0.1.8', 'someone/else')],
    ['a pull', { ...manifestPush(digest('3')), action: 'pull' }],
    ['a blob push', { ...manifestPush(digest('3')), target: { mediaType: 'application/octet-stream', size: 9, digest: digest('3'), repository: 'kubeflow-images-public/metadata' } }],
    ['a tag outside the policy', manifestPush(digest('3'), 'v9.9.9')],
    ['a push by digest', { ...manifestPush(digest('3')), target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 9, digest: digest('3'), repository: 'kubeflow-images-public/metadata' } }],
  ])('%s is 202 and changes nothing', async (_name, event) => {
    const before = await app.fingerprint();
    const stepsBefore = app.reports.size;
    const response = await deliver('/webhooks/registry/distribution', distribution(event), { ...auth, 'content-type': DIST });
    expect(response.status).toBe(202);
    expect(typeof response.json.ignored).toBe('string');
    expect(response.json.accepted).toBeUndefined();
    expect(app.reports.size).toBe(stepsBefore); // decided at intake: never queued
    expect(await app.fingerprint()).toBe(before);
    expect(await image()).toBe(`gcr.io/kubeflow-images-public/metadata@${digest('2')}`);
  });

  it.each([
    ['no secret', {}],
    ['a wrong secret', { authorization: 'Bearer wrong-secret-0123456789-0123456789ab' }],
    ['the config secret', configAuth],
    ['the status token', statusAuth],
    ['the Docker Hub URL token as Bearer', { authorization: `Bearer ${CREDENTIALS.KFM_DOCKERHUB_TOKEN}` }],
    ['a secret in the URL, where the route does not take it', {}],
  ])('%s is 401 and changes nothing', async (name, headers) => {
    const before = await app.fingerprint();
    const path = name.includes('URL') ? `/webhooks/registry/distribution?token=${SECRET}` : '/webhooks/registry/distribution';
    const response = await deliver(path, distribution(manifestPush(digest('4'), 'v0.1.8', 'kubeflow-images-public/metadata', '2026-02-01T00:00:00Z')), { ...headers, 'content-type': DIST });
    expect(response.status).toBe(401);
    expect(response.report).toBeUndefined();
    expect(await app.fingerprint()).toBe(before);
  });

  it('a port change to 9090 leaves exactly one container port, 9090, and the Service on 9090', async () => {
    const byPush = await deliver('/webhooks/config', JSON.stringify({ config: { port: 9090 } }), { ...auth, 'content-type': 'application/json' });
    expect(byPush.status).toBe(401);
    expect(byPush.report).toBeUndefined();
    const response = await deliver('/webhooks/config', JSON.stringify({ config: { port: 9090 } }), { ...configAuth, 'content-type': 'application/json' });
    expect(response.status).toBe(202);
    expect(response.report).toMatchObject({ outcome: 'applied', status: { state: 'active', message: '' } });
    const deployment = await app.object('Deployment', 'kubeflow-metadata');
    expect(deployment.spec.template.spec.containers[0].ports).toEqual([{ name: 'http', containerPort: 9090, protocol: 'TCP' }]);
    expect(deployment.spec.template.spec.containers[0].command).toContain('--http_port=9090');
    expect((await app.object('Service', 'kubeflow-metadata')).spec.ports).toEqual([{ name: 'http', port: 9090, targetPort: 'http', protocol: 'TCP' }]);
  });

  it('bad config bodies are 400 naming the field, and write nothing', async () => {
    const before = await app.fingerprint();
    for (const [body, field] of [['{"config":{"port":70000}}', 'config.port'], ['{"config":{"prot":1}}', 'config.prot'], ['{"config":', 'body']]) {
      const response = await deliver('/webhooks/config', body!, { ...configAuth, 'content-type': 'application/json' });
      expect(response.status).toBe(400);
      expect(response.report).toBeUndefined();
      expect(response.json.field).toBe(field);
    }
    expect(await app.fingerprint()).toBe(before);
  });

  it('refuses non-JSON, compressed and oversized bodies', async () => {
    expect((await post('/webhooks/config', '{}', { ...configAuth, 'content-type': 'text/plain' })).status).toBe(415);
    expect((await post('/webhooks/config', '{}', { ...configAuth, 'content-type': 'application/json', 'content-encoding': 'gzip' })).status).toBe(415);
    expect((await post('/webhooks/config', `{"x":"${'a'.repeat(1024 * 1024)}"}`, { ...configAuth, 'content-type': 'application/json' })).status).toBe(413);
  });

  it('GET /status shows status, flags, the pinned image and the config, and no secret', async () => {
    const response = await app.request('GET', '/status', undefined, statusAuth);
    expect(response.status).toBe(200);
    expect(response.json.status).toEqual({ state: 'active', message: '' });
    expect(response.json.flags).toEqual(expect.arrayContaining(['charm.started', 'layer.docker-resource.oci-image.available', 'mysql.available']));
    expect(response.json.resources['oci-image']).toMatchObject({ registryPath: `gcr.io/kubeflow-images-public/metadata@${digest('2')}`, digest: digest('2') });
    expect(response.json.config).toEqual({ port: 9090, 'database-name': 'metadb' });
    expect(response.text).not.toContain(MYSQL_PASSWORD);
    expect((await app.request('GET', '/status')).status).toBe(401);
    // Only the status token reads it: the push and config secrets are refused there.
    for (const headers of [auth, configAuth, { authorization: `Bearer ${CREDENTIALS.KFM_CONTROL_SECRET}` }]) {
      const refused = await app.request('GET', '/status', undefined, headers);
      expect(refused.status).toBe(401);
      expect(refused.json.status).toBeUndefined();
    }
  });

  it('POST /control is served, and only its own credential gets past authentication', async () => {
    const before = await app.fingerprint();
    for (const headers of [{}, auth, configAuth, statusAuth]) {
      expect((await deliver('/control', '{"suspend":true}', { ...headers, 'content-type': 'application/json' })).status).toBe(401);
    }
    expect(await app.fingerprint()).toBe(before);
    const controlAuth = { authorization: `Bearer ${CREDENTIALS.KFM_CONTROL_SECRET}`, 'content-type': 'application/json' };
    // A malformed request is a 400 naming the field, and nothing is queued.
    for (const [body, field] of [['{"pin":{"tag":"bad tag"}}', 'pin.tag'], ['{"suspend":true,"resume":true}', 'body'], ['{"unquarantine":"md5:1"}', 'unquarantine']] as const) {
      const refused = await deliver('/control', body, controlAuth);
      expect(refused.status).toBe(400);
      expect(refused.report).toBeUndefined();
      expect(JSON.stringify(refused.json)).toContain(field);
    }
    expect((await app.request('GET', '/control')).status).toBe(405);
    expect(await app.fingerprint()).toBe(before);
    // Suspended: a push is recorded as ignored, and the image stays; resumed: automation again.
    const deployed = await image();
    const suspend = await deliver('/control', '{"suspend":true}', controlAuth);
    expect(suspend.status).toBe(202);
    expect(suspend.report).toMatchObject({ outcome: 'applied' });
    const status = (await app.request('GET', '/status', undefined, statusAuth)).json;
    expect(status.control).toEqual({ suspended: true });
    const push = await deliver('/webhooks/registry/distribution', distribution(manifestPush(digest('7'), 'v0.1.8', 'kubeflow-images-public/metadata', '2026-03-01T00:00:00Z')), { ...auth, 'content-type': DIST });
    expect(push.report).toMatchObject({ outcome: 'ignored', reason: expect.stringMatching(/automation is suspended/) });
    expect(await recent(push.json.accepted)).toMatchObject({ outcome: 'ignored' });
    expect(await image()).toBe(deployed);
    const resume = await deliver('/control', '{"resume":true}', controlAuth);
    expect(resume.report).toMatchObject({ outcome: 'applied' });
    expect((await app.request('GET', '/status', undefined, statusAuth)).json.control).toEqual({});
    // (The same push again would be a duplicate inside the deduplication window: a newer one.)
    const again = await deliver('/webhooks/registry/distribution', distribution(manifestPush(digest('8'), 'v0.1.8', 'kubeflow-images-public/metadata', '2026-03-02T00:00:00Z')), { ...auth, 'content-type': DIST });
    expect(again.report).toMatchObject({ outcome: 'applied' });
    expect(await image()).toBe(`gcr.io/kubeflow-images-public/metadata@${digest('8')}`);
  });

  it('no password or credential reached a log line, a response, the Deployment or the Service', async () => {
    const logs = app.logs.join('');
    expect(logs.length).toBeGreaterThan(0);
    for (const secret of [MYSQL_PASSWORD, ...Object.values(CREDENTIALS), Buffer.from(MYSQL_PASSWORD).toString('base64')]) {
      expect(logs).not.toContain(secret);
      expect(JSON.stringify(await app.object('Deployment', 'kubeflow-metadata'))).not.toContain(secret);
      expect(JSON.stringify(await app.object('Service', 'kubeflow-metadata'))).not.toContain(secret);
      expect(JSON.stringify(await app.object('ConfigMap', 'kubeflow-metadata-deployer-state'))).not.toContain(secret);
    }
  });
});
