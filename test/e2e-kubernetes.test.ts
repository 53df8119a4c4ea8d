// The deployer on a REAL Kubernetes control plane (test/support/control-plane.ts: etcd, kube-apiserver,
// controller-manager, scheduler, kwok's fake node), as the identity deploy/rbac.yaml binds (a client
// certificate in group kubeflow-metadata-deployer, not system:masters), through the real Kubernetes
// target: first deploy, config changes, pushes, a rollout to Available, and the in-cluster connection
// with a TokenRequest token. Write requests are counted from the API server's audit log. The fetch port
// is a stand-in (tag → digest, no registry): the registry suites cover it.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { FAKE_NODE, DEPLOYER_GROUP, DEPLOYER_USER, startControlPlane, type ControlPlane } from './support/control-plane.js';
import { createKubernetesTarget } from '../src/targets/kubernetes/target.js';
import { createKubeConfig } from '../src/targets/kubernetes/connection.js';
import { createDeployer } from '../src/app/deployer.js';
import { parseImageRef } from '../src/image/reference.js';
import { parseTagPolicy } from '../src/policy/tag-policy.js';
import { createLogger } from '../src/log.js';
import type { ResourceFetcher } from '../src/resource/port.js';
import type { PushEvent } from '../src/domain/types.js';
import { observe, watchSecrets, watchStore } from './support/leak-guard.js';

const MYSQL_PASSWORD = 'kube-e2e-mysql-password';
const REGISTRY_PASSWORD = 'kube-e2e-registry-password';
watchSecrets(MYSQL_PASSWORD, REGISTRY_PASSWORD);
const NS = 'kubeflow';
const image = parseImageRef('registry.example:5000/kubeflow/metadata:1.0.0');
const digestOf = (tag: string) => `sha256:${Buffer.from(tag).toString('hex').padEnd(64, '0').slice(0, 64)}`;
const pinned = (tag: string) => `registry.example:5000/kubeflow/metadata@${digestOf(tag)}`;
let registryIsPublic = false; // flipped by the test of a registry made public
const fetcher: ResourceFetcher = {
  async fetch(request) {
    const tag = request.tag ?? image.tag;
    const digest = request.digest ?? digestOf(tag);
    const credentials = registryIsPublic ? undefined : { username: 'robot', password: REGISTRY_PASSWORD };
    return { registryPath: `${image.registry}/${image.repository}@${digest}`, digest, tag, pushedAt: request.pushedAt, credentials };
  },
};
const push = (tag: string, second = 0): PushEvent => ({
  provider: 'generic', repository: 'kubeflow/metadata', tag, digest: digestOf(tag), pushedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString(),
});

let cp: ControlPlane;
let dir: string;
const logs: string[] = [];
const logger = createLogger((line) => (logs.push(line), observe('a log line', line)));
const deployerOn = (kubeConfig: KubeConfig) => createDeployer({
  app: 'kubeflow-metadata', namespace: NS, image, tagPolicy: parseTagPolicy('semver:^1', image.tag), setStatus: true,
  target: createKubernetesTarget({ kubeConfig, namespace: NS }), fetcher, logger,
});
let deployer: ReturnType<typeof deployerOn>;

/** An object as the server holds it (read as admin), or undefined. */
async function live(resource: string, name: string): Promise<any> {
  const prefix = resource === 'deployments' ? '/apis/apps/v1' : '/api/v1';
  const { status, body } = await cp.request('GET', `${prefix}/namespaces/${NS}/${resource}/${name}`);
  if (status === 404) return undefined;
  if (status !== 200) throw new Error(`GET ${resource}/${name}: ${status} ${JSON.stringify(body)}`);
  return body;
}
const container = async () => (await live('deployments', 'kubeflow-metadata')).spec.template.spec.containers[0];
const writes = async () => (await cp.writeRequests()).length;
async function eventually<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, ms = 60_000): Promise<T> {
  let value = await read();
  for (const deadline = Date.now() + ms; !ok(value); value = await read()) {
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)?.slice(0, 400)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return value;
}

beforeAll(async () => {
  cp = await startControlPlane();
  await cp.applyDeployerRbac();
  dir = await mkdtemp(join(tmpdir(), 'kfm-kube-'));
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(cp.deployerKubeconfig);
  deployer = deployerOn(kubeConfig);
  // What the real server stores outside Secrets (pods and ReplicaSets copy the template) holds no password.
  watchStore('the API server\'s non-Secret objects', async () => {
    const lists = await Promise.all(['/apis/apps/v1/namespaces/kubeflow/deployments', '/apis/apps/v1/namespaces/kubeflow/replicasets',
      '/api/v1/namespaces/kubeflow/services', '/api/v1/namespaces/kubeflow/configmaps', '/api/v1/namespaces/kubeflow/pods'].map((p) => cp.request('GET', p)));
    return JSON.stringify(lists.map((l) => l.body));
  });
}, 120_000);
afterAll(async () => {
  await cp?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('the deployer on a real API server, as the RBAC-bound deployer identity', () => {
  it('first deploy creates the Secrets, the Service, the Deployment and the state, as the deployer user', async () => {
    const report = await deployer.run({ hook: 'config-changed', mysql: { host: 'mysql', port: 3306, user: 'root', password: MYSQL_PASSWORD } });
    expect(report.status).toEqual({ state: 'active', message: '' });
    expect(report.changes).toEqual([
      { kind: 'ConfigMap', name: 'kubeflow-metadata-deployer-state', outcome: 'created' }, // the claim comes first
      { kind: 'Secret', name: 'kubeflow-metadata-mysql', outcome: 'created' },
      { kind: 'Secret', name: 'kubeflow-metadata-registry', outcome: 'created' },
      { kind: 'Service', name: 'kubeflow-metadata', outcome: 'created' },
      { kind: 'Deployment', name: 'kubeflow-metadata', outcome: 'created' },
    ]);
    expect((await container()).image).toBe(pinned('1.0.0'));
    expect((await live('deployments', 'kubeflow-metadata')).spec.template.spec.imagePullSecrets).toEqual([{ name: 'kubeflow-metadata-registry' }]);
    const creates = (await cp.writeRequests()).filter((e) => e.verb === 'create');
    expect(creates.map((e) => `${e.objectRef?.resource}/${e.objectRef?.name ?? ''} ${e.responseStatus?.code}`).sort()).toEqual([
      'configmaps/kubeflow-metadata-deployer-state 201', 'deployments/kubeflow-metadata 201', 'secrets/kubeflow-metadata-mysql 201',
      'secrets/kubeflow-metadata-registry 201', 'services/kubeflow-metadata 201']);
    expect(creates[0]?.user.groups).toContain(DEPLOYER_GROUP);
    expect(creates[0]?.user.groups).not.toContain('system:masters');
  });

  it('the real server accepted the pull Secret (kubernetes.io/dockerconfigjson) and the MySQL Secret', async () => {
    const pull = await live('secrets', 'kubeflow-metadata-registry');
    expect(pull.type).toBe('kubernetes.io/dockerconfigjson');
    const config = JSON.parse(Buffer.from(pull.data['.dockerconfigjson'], 'base64').toString());
    expect(config.auths['registry.example:5000']).toMatchObject({ username: 'robot', password: REGISTRY_PASSWORD });
    const mysql = await live('secrets', 'kubeflow-metadata-mysql');
    expect(Buffer.from(mysql.data.MYSQL_ROOT_PASSWORD, 'base64').toString()).toBe(MYSQL_PASSWORD);
    // The container reads the password from that Secret, never from its spec.
    expect((await container()).env).toContainEqual({ name: 'MYSQL_ROOT_PASSWORD', valueFrom: { secretKeyRef: { name: 'kubeflow-metadata-mysql', key: 'MYSQL_ROOT_PASSWORD' } } });
  });

  it('the Deployment rolls out on the kwok node and reports Available', async () => {
    const status = await eventually('the Deployment to become Available', async () => (await live('deployments', 'kubeflow-metadata')).status,
      (s: any) => (s?.conditions ?? []).some((c: any) => c.type === 'Available' && c.status === 'True') && s.readyReplicas === s.replicas);
    expect(status.readyReplicas).toBeGreaterThanOrEqual(1);
    const pods = (await cp.request('GET', `/api/v1/namespaces/${NS}/pods?labelSelector=app.kubernetes.io%2Fname%3Dkubeflow-metadata`)).body.items;
    expect(pods.length).toBeGreaterThanOrEqual(1);
    for (const pod of pods) expect([pod.spec.nodeName, pod.status.phase]).toEqual([FAKE_NODE, 'Running']);
  }, 90_000);

  it('the same event again sends zero write requests (audit log)', async () => {
    const before = await writes();
    const report = await deployer.run({ hook: 'config-changed' });
    expect(report.changes.filter((c) => c.outcome !== 'unchanged')).toEqual([]);
    expect(await writes()).toBe(before);
  });

  it('a port change leaves exactly one container port and moves the Service', async () => {
    await deployer.run({ hook: 'config-changed', config: { port: 9090 } });
    expect((await container()).ports).toEqual([{ name: 'http', containerPort: 9090, protocol: 'TCP' }]);
    const ports = (await live('services', 'kubeflow-metadata')).spec.ports;
    expect(ports).toEqual([{ name: 'http', port: 9090, targetPort: 'http', protocol: 'TCP' }]);
  });

  it('a database change rewrites the command; a password change restarts pods without the password in the spec', async () => {
    await deployer.run({ hook: 'config-changed', config: { 'database-name': 'mlmd2' } });
    expect((await container()).command).toContain('--mlmd_db_name=mlmd2');
    const revisionOf = async () => (await live('deployments', 'kubeflow-metadata')).spec.template.metadata.annotations['kubeflow-metadata-deployer/mysql-revision'];
    const revision = await revisionOf();
    await deployer.run({ hook: 'config-changed', mysql: { host: 'mysql', port: 3306, user: 'root', password: `${MYSQL_PASSWORD}-2` } });
    expect(await revisionOf()).toBe(String(Number(revision) + 1));
    expect(Buffer.from((await live('secrets', 'kubeflow-metadata-mysql')).data.MYSQL_ROOT_PASSWORD, 'base64').toString()).toBe(`${MYSQL_PASSWORD}-2`);
  });

  it('50 concurrent pushes of different versions end on the newest; the Deployment never went backwards', async () => {
    const from = (await cp.auditEntries()).length;
    const tags = Array.from({ length: 50 }, (_, i) => `1.${Math.floor(i / 10)}.${i % 10}`);
    const shuffled = [...tags].sort(() => Math.random() - 0.5);
    const results = await Promise.allSettled(shuffled.map((tag, i) => deployer.run({ hook: 'upgrade-charm', pushes: [push(tag, i)] })));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect((await container()).image).toBe(pinned('1.4.9'));
    const status = await deployer.status();
    expect(status.resources['oci-image']).toMatchObject({ tag: '1.4.9', digest: digestOf('1.4.9') });
    expect(status.status).toEqual({ state: 'active', message: '' });
    expect((await container()).ports).toEqual([{ name: 'http', containerPort: 9090, protocol: 'TCP' }]); // config survived the race
    // Every image the server stored, in its own order (resourceVersion), from the audit log's response objects.
    const stored = (await cp.auditEntries()).slice(from)
      .filter((e) => e.stage === 'ResponseComplete' && e.objectRef?.resource === 'deployments' && e.responseStatus?.code === 200 && e.verb === 'patch')
      .map((e) => e.responseObject as any).filter((o) => o?.spec)
      .sort((a, b) => Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion))
      .map((o) => o.spec.template.spec.containers[0].image as string);
    const versions = stored.filter((ref, i) => ref !== stored[i - 1]).map((ref) => tags.find((t) => pinned(t) === ref) ?? ref);
    expect(versions.at(-1)).toBe('1.4.9');
    const order = versions.map((t) => t.split('.').map(Number)).map(([, minor = 0, patch = 0]) => minor * 10 + patch);
    expect(order).toEqual([...order].sort((a, b) => a - b));
  }, 180_000);

  it('a registry made public: the next push drops imagePullSecrets, and a redelivery writes nothing', async () => {
    expect((await live('deployments', 'kubeflow-metadata')).spec.template.spec.imagePullSecrets).toEqual([{ name: 'kubeflow-metadata-registry' }]);
    registryIsPublic = true;
    const report = await deployer.run({ hook: 'upgrade-charm', pushes: [push('1.5.0', 100)] });
    expect(report.changes).toContainEqual({ kind: 'Deployment', name: 'kubeflow-metadata', outcome: 'patched' });
    const pod = (await live('deployments', 'kubeflow-metadata')).spec.template.spec;
    expect(pod).not.toHaveProperty('imagePullSecrets');
    expect(pod.containers[0].image).toBe(pinned('1.5.0'));
    const before = await writes();
    await deployer.run({ hook: 'upgrade-charm', pushes: [push('1.5.0', 100)] });
    expect(await writes()).toBe(before);
  });

  it('in-cluster: a ServiceAccount token from the TokenRequest API, files where a pod has them, KUBERNETES_SERVICE_HOST/PORT', async () => {
    const account = 'kfm-in-cluster';
    expect((await cp.request('POST', `/api/v1/namespaces/${NS}/serviceaccounts`, { body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: account } } })).status).toBe(201);
    // deploy/rbac.yaml: "When the deployer runs in-cluster instead, add its ServiceAccount as a subject."
    const binding = await cp.request('POST', `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/rolebindings`, { body: {
      apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'RoleBinding', metadata: { name: account },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'kubeflow-metadata-deployer' },
      subjects: [{ kind: 'ServiceAccount', name: account, namespace: NS }] } });
    expect(binding.status).toBe(201);
    const issued = await cp.request('POST', `/api/v1/namespaces/${NS}/serviceaccounts/${account}/token`, {
      body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 3600 } } });
    expect(issued.status).toBe(201);
    const token: string = issued.body.status.token;
    watchSecrets(token);
    const root = join(dir, 'pod');
    const mount = join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
    await mkdir(mount, { recursive: true });
    await Promise.all([writeFile(join(mount, 'token'), token), writeFile(join(mount, 'ca.crt'), await readFile(cp.caFile)), writeFile(join(mount, 'namespace'), NS)]);
    const { hostname, port } = new URL(cp.server);
    const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
    // client-node reads the service address from process.env itself; HOME without .kube, no KUBECONFIG.
    Object.assign(process.env, { KUBERNETES_SERVICE_HOST: hostname, KUBERNETES_SERVICE_PORT: port });
    try {
      const env = { KUBERNETES_SERVICE_HOST: hostname, KUBERNETES_SERVICE_PORT: port, HOME: root };
      const kubeConfig = await createKubeConfig({ settings: { eks: undefined }, env, inClusterPathPrefix: root });
      expect(kubeConfig.getCurrentCluster()?.server).toBe(cp.server);
      const inCluster = deployerOn(kubeConfig);
      const report = await inCluster.run({ hook: 'upgrade-charm', pushes: [push('1.6.0', 200)] });
      expect(report.status).toEqual({ state: 'active', message: '' });
      expect((await container()).image).toBe(pinned('1.6.0'));
    } finally {
      for (const [key, value] of [['KUBERNETES_SERVICE_HOST', saved.host], ['KUBERNETES_SERVICE_PORT', saved.port]] as const) {
        if (value === undefined) delete process.env[key]; else process.env[key] = value;
      }
    }
    const asAccount = await cp.writeRequests(`system:serviceaccount:${NS}:${account}`);
    expect(asAccount.map((e) => `${e.verb} ${e.objectRef?.resource}/${e.objectRef?.name} ${e.responseStatus?.code}`)).toContain('patch deployments/kubeflow-metadata 200');
    expect(asAccount.every((e) => e.user.username !== DEPLOYER_USER)).toBe(true);
  });

  it('no password reached a Deployment, a Service, the state, a pod or a log line', async () => {
    const visible = JSON.stringify((await Promise.all(['deployments', 'services', 'configmaps'].map((r) =>
      cp.request('GET', `${r === 'deployments' ? '/apis/apps/v1' : '/api/v1'}/namespaces/${NS}/${r}`)))).map((l) => l.body)) + logs.join('\n');
    expect(visible).toContain('kubeflow-metadata-deployer-state'); // the lists were really read
    for (const secret of [MYSQL_PASSWORD, REGISTRY_PASSWORD]) {
      expect(visible).not.toContain(secret);
      expect(visible).not.toContain(Buffer.from(secret).toString('base64'));
    }
  });
});
