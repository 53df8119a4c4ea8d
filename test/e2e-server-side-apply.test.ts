// Server-side apply and Pod Security, proven on a REAL control plane
// (test/support/control-plane.ts) through the deployer (createDeployer(...).run)
// as the identity deploy/rbac.yaml binds, in namespace kubeflow labelled
// pod-security.kubernetes.io/enforce=restricted. An operator (the admin, with the
// kubectl built for the tests) edits the objects between events: the fields
// they add survive, the fields the deployer owns come back, a field the deployer
// stopped setting disappears, and an event that changes nothing writes nothing
// (counted in the API server's audit log). The fetch port is a stand-in (tag →
// digest, no registry): the registry suites cover it.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { createDeployer } from '../src/app/deployer.js';
import type { PushEvent } from '../src/domain/types.js';
import { parseImageRef } from '../src/image/reference.js';
import { createLogger } from '../src/log.js';
import { parseTagPolicy } from '../src/policy/tag-policy.js';
import type { ResourceFetcher } from '../src/resource/port.js';
import { createKubernetesTarget } from '../src/targets/kubernetes/target.js';
import { FAKE_NODE, startControlPlane, type ControlPlane } from './support/control-plane.js';
import { observe, watchSecrets } from './support/leak-guard.js';

jest.setTimeout(180_000); // rollouts on a shared 2-core machine
const NS = 'kubeflow';
const APP = 'kubeflow-metadata';
const MYSQL_PASSWORD = 'ssa-e2e-mysql-password';
const REGISTRY_PASSWORD = 'ssa-e2e-registry-password';
watchSecrets(MYSQL_PASSWORD, REGISTRY_PASSWORD);
const image = parseImageRef('registry.example:5000/kubeflow/metadata:1.0.0');
const digestOf = (tag: string) => `sha256:${Buffer.from(tag).toString('hex').padEnd(64, '0').slice(0, 64)}`;
const pinned = (tag: string) => `registry.example:5000/kubeflow/metadata@${digestOf(tag)}`;
const fetcher: ResourceFetcher = {
  async fetch(request) {
    const tag = request.tag ?? image.tag;
    const digest = request.digest ?? digestOf(tag);
    return { registryPath: pinned(tag), digest, tag, pushedAt: request.pushedAt, credentials: { username: 'robot', password: REGISTRY_PASSWORD } };
  },
};
const push = (tag: string, second: number): PushEvent => ({
  provider: 'generic', repository: 'kubeflow/metadata', tag, digest: digestOf(tag), pushedAt: new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString(),
});

let cp: ControlPlane;
let deployer: ReturnType<typeof createDeployer>;

/** An object as the server holds it, read as admin. */
async function live(resource: 'deployments' | 'services' | 'pods', name = APP): Promise<any> {
  const prefix = resource === 'deployments' ? '/apis/apps/v1' : '/api/v1';
  const { status, body } = await cp.request('GET', `${prefix}/namespaces/${NS}/${resource}/${name}`);
  if (status !== 200) throw new Error(`GET ${resource}/${name}: ${status} ${body?.message}`);
  return body;
}
const pod = async () => (await live('deployments')).spec.template.spec;
const container = async () => (await pod()).containers[0];
const writes = async () => (await cp.writeRequests()).length;
/** kubectl as the operator (admin); a failure fails the test with kubectl's own words. */
async function operator(...args: string[]): Promise<void> {
  const { code, stderr } = await cp.kubectl(['-n', NS, ...args]);
  if (code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${stderr}`);
}
async function eventually<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, ms = 120_000): Promise<T> {
  let value = await read();
  for (const deadline = Date.now() + ms; !ok(value); value = await read()) {
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)?.slice(0, 600)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return value;
}
/** Available, with every replica from the current template: the pods of the new ReplicaSet were admitted and run. */
const rolledOut = () => eventually('the rollout', async () => live('deployments'), (d: any) =>
  d.status?.observedGeneration === d.metadata.generation && d.status.updatedReplicas === d.spec.replicas
  && d.status.availableReplicas === d.spec.replicas && d.status.replicas === d.spec.replicas
  && (d.status.conditions ?? []).some((c: any) => c.type === 'Available' && c.status === 'True'));

beforeAll(async () => {
  cp = await startControlPlane();
  await cp.applyDeployerRbac();
  await cp.kubectl(['label', 'namespace', NS, 'pod-security.kubernetes.io/enforce=restricted', 'pod-security.kubernetes.io/enforce-version=latest']);
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(cp.deployerKubeconfig);
  deployer = createDeployer({
    app: APP, namespace: NS, image, tagPolicy: parseTagPolicy('semver:^1', image.tag), setStatus: true,
    target: createKubernetesTarget({ kubeConfig, namespace: NS }), fetcher, logger: createLogger((line) => observe('a log line', line)),
  });
}, 120_000);
afterAll(async () => {
  await cp?.stop();
});

describe('Pod Security "restricted" by default', () => {
  it('the namespace really enforces it: a pod without the security settings is refused', async () => {
    const labels = (await cp.request('GET', `/api/v1/namespaces/${NS}`)).body.metadata.labels;
    expect(labels['pod-security.kubernetes.io/enforce']).toBe('restricted');
    const plain = await cp.kubectl(['-n', NS, 'run', 'plain', '--image=busybox', '--restart=Never', '--dry-run=server']);
    expect(plain.code).not.toBe(0);
    expect(plain.stderr).toMatch(/violates PodSecurity "restricted:latest"/);
  });

  it('the first deploy is admitted: the pod runs on the fake node, the Deployment becomes Available', async () => {
    const report = await deployer.run({ hook: 'config-changed', mysql: { host: 'mysql', port: 3306, user: 'root', password: MYSQL_PASSWORD } });
    expect(report.status).toEqual({ state: 'active', message: '' });
    await rolledOut();
    const pods = (await cp.request('GET', `/api/v1/namespaces/${NS}/pods?labelSelector=app.kubernetes.io%2Fname%3D${APP}`)).body.items;
    expect(pods.map((p: any) => [p.spec.nodeName, p.status.phase])).toEqual([[FAKE_NODE, 'Running']]);
    expect(pods[0].spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pods[0].spec.automountServiceAccountToken).toBe(false);
    expect(pods[0].spec.volumes ?? []).toEqual([]); // no projected token volume either
    expect(pods[0].metadata.labels).toMatchObject({ 'app.kubernetes.io/version': '1.0.0', 'app.kubernetes.io/part-of': 'kubeflow' });
  });

  it('an identical event then sends zero write requests (the server stored every value as rendered)', async () => {
    const before = await writes();
    const report = await deployer.run({ hook: 'config-changed' });
    expect(report.changes.filter((c) => c.outcome !== 'unchanged')).toEqual([]);
    expect(await writes()).toBe(before);
  });
});

describe('server-side apply: the deployer owns exactly the fields it sets', () => {
  const theirs = {
    toleration: { key: 'dedicated', operator: 'Equal', value: 'ml', effect: 'NoSchedule' },
    label: ['team', 'ml-platform'],
    annotation: ['example.com/owner', 'ml-platform@example.com'],
  };
  async function expectOperatorFields(): Promise<void> {
    const deployment = await live('deployments');
    expect(deployment.metadata.labels[theirs.label[0]!]).toBe(theirs.label[1]);
    expect(deployment.metadata.annotations[theirs.annotation[0]!]).toBe(theirs.annotation[1]);
    expect(deployment.spec.template.spec.tolerations).toEqual([theirs.toleration]);
    // The operator's CPU limit beside the deployer's requests and memory limit, in the same map.
    expect(deployment.spec.template.spec.containers[0].resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '2', memory: '512Mi' } });
  }

  it('fields an operator adds with kubectl cause no write, and survive the next push and the next config change', async () => {
    await operator('label', 'deployment', APP, theirs.label.join('='));
    await operator('annotate', 'deployment', APP, theirs.annotation.join('='));
    await operator('patch', 'deployment', APP, '--type=json', '-p', JSON.stringify([
      { op: 'add', path: '/spec/template/spec/tolerations', value: [theirs.toleration] }]));
    await operator('set', 'resources', `deployment/${APP}`, '-c', 'metadata', '--limits=cpu=2');
    await expectOperatorFields();
    const before = await writes();
    await deployer.run({ hook: 'config-changed' });
    expect(await writes()).toBe(before);

    const pushed = await deployer.run({ hook: 'upgrade-charm', pushes: [push('1.1.0', 1)] });
    expect(pushed.changes).toContainEqual({ kind: 'Deployment', name: APP, outcome: 'patched' });
    expect((await container()).image).toBe(pinned('1.1.0'));
    await expectOperatorFields();
    await deployer.run({ hook: 'config-changed', config: { 'database-name': 'mlmd2' } });
    expect((await container()).command).toContain('--mlmd_db_name=mlmd2');
    await expectOperatorFields();
    await rolledOut(); // the tolerated, resource-limited pod is admitted too
  });

  it('port 8080 → 9090 leaves exactly one port on the container and on the Service', async () => {
    await deployer.run({ hook: 'config-changed', config: { port: 9090 } });
    expect((await container()).ports).toEqual([{ name: 'http', containerPort: 9090, protocol: 'TCP' }]);
    expect((await container()).command).toContain('--http_port=9090');
    expect((await live('services')).spec.ports).toEqual([{ name: 'http', port: 9090, targetPort: 'http', protocol: 'TCP' }]);
    await expectOperatorFields();
  });

  it('the deployer\'s own fields are restored by the next event when someone edits them', async () => {
    await operator('set', 'image', `deployment/${APP}`, 'metadata=docker.io/library/busybox:latest');
    await operator('label', 'deployment', APP, 'app.kubernetes.io/part-of-');
    await operator('scale', 'deployment', APP, '--replicas=3');
    await operator('patch', 'deployment', APP, '--type=json', '-p', JSON.stringify([
      { op: 'replace', path: '/spec/template/spec/containers/0/securityContext/allowPrivilegeEscalation', value: true }]));
    expect((await container()).image).toBe('docker.io/library/busybox:latest');

    const report = await deployer.run({ hook: 'config-changed' });
    expect(report.changes).toContainEqual({ kind: 'Deployment', name: APP, outcome: 'patched' });
    const deployment = await live('deployments');
    expect(deployment.spec.template.spec.containers[0].image).toBe(pinned('1.1.0'));
    expect(deployment.spec.template.spec.containers[0].securityContext.allowPrivilegeEscalation).toBe(false);
    expect(deployment.metadata.labels['app.kubernetes.io/part-of']).toBe('kubeflow');
    expect(deployment.spec.replicas).toBe(1);
    await expectOperatorFields();
    const before = await writes();
    await deployer.run({ hook: 'config-changed' });
    expect(await writes()).toBe(before); // restored once, then nothing left to do
  });

  it('the managedFields say who owns what: the deployer one Apply entry, the operator the rest', async () => {
    const entries = (await live('deployments')).metadata.managedFields as Array<{ manager: string; operation: string; fieldsV1: unknown }>;
    const ours = entries.filter((e) => e.manager === 'kubeflow-metadata-deployer');
    expect(ours.map((e) => e.operation)).toEqual(['Apply']);
    const owned = JSON.stringify(ours[0]!.fieldsV1);
    for (const field of ['f:image', 'f:securityContext', 'f:startupProbe', 'f:livenessProbe', 'f:app.kubernetes.io/version']) expect(owned).toContain(field);
    for (const field of ['f:tolerations', 'f:team', 'f:example.com/owner']) expect(owned).not.toContain(field);
    const limits = (ours[0]!.fieldsV1 as any)['f:spec']['f:template']['f:spec']['f:containers']['k:{"name":"metadata"}']['f:resources']['f:limits'];
    expect(Object.keys(limits)).toEqual(['f:memory']); // not the operator's cpu limit
  });
});
