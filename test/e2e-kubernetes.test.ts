// The deployer against the Kubernetes API double (patches applied by kubectl),
// through the real Kubernetes target: first deploy, config changes, and 50
// concurrent pushes. The fetch port is a stand-in here (tag → digest, no
// registry): the registry suites cover it.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { startKubeDouble, type KubeDouble } from './support/kube-double.js';
import { createKubernetesTarget } from '../src/targets/kubernetes/target.js';
import { createDeployer, type Deployer } from '../src/app/deployer.js';
import { parseImageRef } from '../src/image/reference.js';
import { parseTagPolicy } from '../src/policy/tag-policy.js';
import { createLogger } from '../src/log.js';
import type { ResourceFetcher } from '../src/resource/port.js';
import type { PushEvent } from '../src/domain/types.js';
import { observe, watchSecrets } from './support/leak-guard.js';

const MYSQL_PASSWORD = 'kube-e2e-mysql-password';
const REGISTRY_PASSWORD = 'kube-e2e-registry-password';
watchSecrets(MYSQL_PASSWORD, REGISTRY_PASSWORD);
const image = parseImageRef('registry.example:5000/kubeflow/metadata:1.0.0');
const digestOf = (tag: string) => `sha256:${Buffer.from(tag).toString('hex').padEnd(64, '0').slice(0, 64)}`;
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

let double: KubeDouble;
let deployer: Deployer;
let dir: string;
const logs: string[] = [];

beforeAll(async () => {
  double = await startKubeDouble();
  dir = await mkdtemp(join(tmpdir(), 'kfm-kube-'));
  await writeFile(join(dir, 'kubeconfig'), double.kubeconfig());
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(join(dir, 'kubeconfig'));
  deployer = createDeployer({
    app: 'kubeflow-metadata', namespace: 'kubeflow', image, tagPolicy: parseTagPolicy('semver:^1', image.tag), setStatus: true,
    target: createKubernetesTarget({ kubeConfig, namespace: 'kubeflow' }), fetcher, logger: createLogger((line) => (logs.push(line), observe('a log line', line))),
  });
});
afterAll(async () => {
  await double?.stop();
  await rm(dir, { recursive: true, force: true });
});

const stored = (kind: string, name: string) => (double.objects() as any[]).find((o) => o.kind === kind && o.metadata.name === name);
const container = () => stored('Deployment', 'kubeflow-metadata').spec.template.spec.containers[0];
const writes = () => double.requests.filter((r) => r.method !== 'GET').length;

describe('the deployer on the Kubernetes API double', () => {
  it('first deploy creates the Secrets, the Service, the Deployment and the state', async () => {
    const report = await deployer.run({ hook: 'config-changed', mysql: { host: 'mysql', port: 3306, user: 'root', password: MYSQL_PASSWORD } });
    expect(report.status).toEqual({ state: 'active', message: '' });
    expect(report.changes).toEqual([
      { kind: 'Secret', name: 'kubeflow-metadata-mysql', outcome: 'created' },
      { kind: 'Secret', name: 'kubeflow-metadata-registry', outcome: 'created' },
      { kind: 'Service', name: 'kubeflow-metadata', outcome: 'created' },
      { kind: 'Deployment', name: 'kubeflow-metadata', outcome: 'created' },
      { kind: 'ConfigMap', name: 'kubeflow-metadata-deployer-state', outcome: 'created' },
    ]);
    expect(container().image).toBe(`registry.example:5000/kubeflow/metadata@${digestOf('1.0.0')}`);
    expect(stored('Deployment', 'kubeflow-metadata').spec.template.spec.imagePullSecrets).toEqual([{ name: 'kubeflow-metadata-registry' }]);
  });

  it('the same event again writes nothing', async () => {
    const before = writes();
    const report = await deployer.run({ hook: 'config-changed' });
    expect(report.changes.filter((c) => c.outcome !== 'unchanged')).toEqual([]);
    expect(writes()).toBe(before);
  });

  it('a port change leaves exactly one container port and moves the Service', async () => {
    await deployer.run({ hook: 'config-changed', config: { port: 9090 } });
    expect(container().ports).toEqual([{ name: 'http', containerPort: 9090, protocol: 'TCP' }]);
    expect(stored('Service', 'kubeflow-metadata').spec.ports).toEqual([{ name: 'http', port: 9090, targetPort: 'http', protocol: 'TCP' }]);
  });

  it('a database change rewrites the command; a password change restarts pods without the password in the spec', async () => {
    await deployer.run({ hook: 'config-changed', config: { 'database-name': 'mlmd2' } });
    expect(container().command).toContain('--mlmd_db_name=mlmd2');
    const revision = stored('Deployment', 'kubeflow-metadata').spec.template.metadata.annotations['kubeflow-metadata-deployer/mysql-revision'];
    await deployer.run({ hook: 'config-changed', mysql: { host: 'mysql', port: 3306, user: 'root', password: `${MYSQL_PASSWORD}-2` } });
    expect(stored('Deployment', 'kubeflow-metadata').spec.template.metadata.annotations['kubeflow-metadata-deployer/mysql-revision']).toBe(String(Number(revision) + 1));
    expect(Buffer.from(stored('Secret', 'kubeflow-metadata-mysql').data.MYSQL_ROOT_PASSWORD, 'base64').toString()).toBe(`${MYSQL_PASSWORD}-2`);
  });

  it('50 concurrent pushes of different versions end on the newest, with no lost update', async () => {
    const tags = Array.from({ length: 50 }, (_, i) => `1.${Math.floor(i / 10)}.${i % 10}`);
    const shuffled = [...tags].sort(() => Math.random() - 0.5);
    const results = await Promise.allSettled(shuffled.map((tag, i) => deployer.run({ hook: 'upgrade-charm', pushes: [push(tag, i)] })));
    expect(results.filter((r) => r.status === 'rejected')).toEqual([]);
    expect((await deployer.status()).resources['oci-image']?.tag).toBe('1.4.9');
    expect(container().image).toBe(`registry.example:5000/kubeflow/metadata@${digestOf('1.4.9')}`);
    const status = await deployer.status();
    expect(status.resources['oci-image']).toMatchObject({ tag: '1.4.9', digest: digestOf('1.4.9') });
    expect(status.status).toEqual({ state: 'active', message: '' });
    // the config set before the race survived it
    expect(container().ports).toEqual([{ name: 'http', containerPort: 9090, protocol: 'TCP' }]);
  }, 120_000);

  it('a registry made public: the next push drops imagePullSecrets, and a redelivery writes nothing', async () => {
    expect(stored('Deployment', 'kubeflow-metadata').spec.template.spec.imagePullSecrets).toEqual([{ name: 'kubeflow-metadata-registry' }]);
    registryIsPublic = true;
    const report = await deployer.run({ hook: 'upgrade-charm', pushes: [push('1.5.0', 100)] });
    expect(report.changes).toContainEqual({ kind: 'Deployment', name: 'kubeflow-metadata', outcome: 'patched' });
    const pod = stored('Deployment', 'kubeflow-metadata').spec.template.spec;
    expect(pod).not.toHaveProperty('imagePullSecrets');
    expect(pod.containers[0].image).toBe(`registry.example:5000/kubeflow/metadata@${digestOf('1.5.0')}`);
    const before = writes();
    await deployer.run({ hook: 'upgrade-charm', pushes: [push('1.5.0', 100)] });
    expect(writes()).toBe(before);
  });

  it('no password reached a Deployment, a Service, the state or a log line', () => {
    const visible = JSON.stringify(double.objects().filter((o) => o.kind !== 'Secret')) + logs.join('\n');
    for (const secret of [MYSQL_PASSWORD, REGISTRY_PASSWORD]) {
      expect(visible).not.toContain(secret);
      expect(visible).not.toContain(Buffer.from(secret).toString('base64'));
    }
  });
});
