// deploy/rbac.yaml is least privilege, on a REAL API server (test/support/control-plane.ts, RBAC
// authorizer): the identity it binds (client certificate CN=O=kubeflow-metadata-deployer) can do what the
// deployer does — get, create and patch its own objects in its namespace, list pods and ReplicaSets (the
// rollout watcher), create events.k8s.io Events — and is refused, by the server, every other verb: one refused request per verb, checked both with `kubectl auth can-i` (the authorizer's
// answer) and with the request itself (a 403, whose audit event says the authorizer forbade it).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { DEPLOYER_USER, issueCertificate, startControlPlane, type ControlPlane } from './support/control-plane.js';
import { createKubernetesTarget } from '../src/targets/kubernetes/target.js';
import { createDeployer } from '../src/app/deployer.js';
import { parseImageRef } from '../src/image/reference.js';
import { parseTagPolicy } from '../src/policy/tag-policy.js';
import { createLogger } from '../src/log.js';
import { watchSecrets } from './support/leak-guard.js';

const NS = 'kubeflow';
const MYSQL_PASSWORD = 'rbac-test-mysql-password';
watchSecrets(MYSQL_PASSWORD);
const OWN = { deployments: 'kubeflow-metadata', services: 'kubeflow-metadata', secrets: 'kubeflow-metadata-mysql', configmaps: 'kubeflow-metadata-deployer-state' };
const GROUP_PATHS: Record<string, string> = { deployments: '/apis/apps/v1', replicasets: '/apis/apps/v1', 'events.k8s.io/events': '/apis/events.k8s.io/v1' };
const path = (resource: string, name = '', ns = NS) =>
  `${GROUP_PATHS[resource] ?? '/api/v1'}/namespaces/${ns}/${resource.replace(/^.*\//, '')}${name ? `/${name}` : ''}`;
/** An events.k8s.io/v1 Event on the Deployment (the kind src/record/events.ts creates). */
const event = (name: string) => ({
  apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name },
  eventTime: new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z'), // MicroTime
  reportingController: 'kubeflow-metadata-deployer', reportingInstance: 'rbac-test', action: 'Deploy', reason: 'RbacTest', type: 'Normal',
  regarding: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: NS, name: 'kubeflow-metadata' }, note: 'rbac test',
});

let cp: ControlPlane;
const asDeployer = (method: string, url: string, body?: unknown, contentType?: string) => cp.request(method, url, { as: 'deployer', body, contentType });
const canI = async (...args: string[]) => {
  const { stdout, code } = await cp.kubectl(['auth', 'can-i', ...args, '-n', NS], { as: 'deployer' });
  return `${stdout.trim()}${code === 0 ? '' : ` (exit ${code})`}`;
};

beforeAll(async () => {
  cp = await startControlPlane();
  await cp.applyDeployerRbac();
  // Objects the deployer must not touch: another Secret and ConfigMap in its namespace, its names elsewhere.
  const create = async (url: string, body: object) => expect((await cp.request('POST', url, { body })).status).toBe(201);
  await create(path('secrets'), { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'someone-elses' }, stringData: { token: 'not-yours-0123' } });
  await create(path('configmaps'), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'someone-elses' }, data: { a: 'b' } });
  await create(path('configmaps', '', 'default'), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: OWN.configmaps }, data: { a: 'b' } });
}, 120_000);
afterAll(() => cp?.stop());

describe('what the deployer needs, it can do', () => {
  it('the deployer itself runs a first deploy and a change with get, create and patch only, none refused', async () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cp.deployerKubeconfig);
    const image = parseImageRef('registry.example:5000/kubeflow/metadata:1.0.0');
    const deployer = createDeployer({
      app: 'kubeflow-metadata', namespace: NS, image, tagPolicy: parseTagPolicy('track', image.tag), setStatus: true,
      target: createKubernetesTarget({ kubeConfig, namespace: NS }), logger: createLogger(() => undefined),
      fetcher: { fetch: async (r) => ({ registryPath: `registry.example:5000/kubeflow/metadata@sha256:${'1'.repeat(64)}`, digest: `sha256:${'1'.repeat(64)}`, tag: r.tag ?? '1.0.0' }) },
    });
    expect((await deployer.run({ hook: 'config-changed', mysql: { host: 'mysql', port: 3306, user: 'root', password: MYSQL_PASSWORD } })).status.state).toBe('active');
    expect((await deployer.run({ hook: 'config-changed', config: { port: 9191 } })).status.state).toBe('active');
    const mine = (await cp.auditEntries()).filter((e) => e.stage === 'ResponseComplete' && e.user.username === DEPLOYER_USER);
    expect(mine.length).toBeGreaterThan(5);
    expect([...new Set(mine.map((e) => e.verb))].sort()).toEqual(['create', 'get', 'patch']);
    expect(mine.filter((e) => e.responseStatus?.code === 403)).toEqual([]);
  });

  it.each(Object.entries(OWN))('get and patch %s/%s (can-i and a real request)', async (resource, name) => {
    expect(await canI('get', `${resource}/${name}`)).toBe('yes');
    expect(await canI('patch', `${resource}/${name}`)).toBe('yes');
    expect((await asDeployer('GET', path(resource, name))).status).toBe(200);
    const patched = await asDeployer('PATCH', path(resource, name), { metadata: { annotations: { 'rbac-test/patched': 'yes' } } }, 'application/merge-patch+json');
    expect(patched.status).toBe(200);
  });

  it('get and patch the pull Secret; create each of the four types', async () => {
    expect(await canI('get', 'secrets/kubeflow-metadata-registry')).toBe('yes');
    expect(await canI('patch', 'secrets/kubeflow-metadata-registry')).toBe('yes');
    for (const resource of ['deployments.apps', 'services', 'secrets', 'configmaps']) expect(await canI('create', resource)).toBe('yes');
  });

  it('the rollout watcher lists pods and ReplicaSets (by label, as it does)', async () => {
    expect(await canI('list', 'pods')).toBe('yes');
    expect(await canI('list', 'replicasets.apps')).toBe('yes');
    const selector = `?labelSelector=${encodeURIComponent('app.kubernetes.io/name=kubeflow-metadata')}`;
    for (const resource of ['pods', 'replicasets']) {
      const listed = await asDeployer('GET', `${path(resource)}${selector}`);
      expect([listed.status, listed.body?.kind]).toEqual([200, resource === 'pods' ? 'PodList' : 'ReplicaSetList']);
    }
  });

  it('create an events.k8s.io Event (and nothing else with Events)', async () => {
    expect(await canI('create', 'events.events.k8s.io')).toBe('yes');
    const made = await asDeployer('POST', path('events.k8s.io/events'), event('kubeflow-metadata.rbac-test'));
    expect([made.status, made.body?.kind]).toEqual([201, 'Event']);
  });

  it('create is by type (Kubernetes cannot narrow it by name, rbac.yaml says so): another name is created but then out of reach', async () => {
    const made = await asDeployer('POST', path('configmaps'), { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'created-by-type' } });
    expect(made.status).toBe(201);
    expect((await asDeployer('GET', path('configmaps', 'created-by-type'))).status).toBe(403);
  });
});

describe('anything else is refused by the server (403), one request per verb', () => {
  // [what, kubectl auth can-i arguments, method, path, body?, content type?]
  const forbidden: Array<[string, string[], string, string, unknown?, string?]> = [
    ['list', ['list', 'secrets'], 'GET', path('secrets')],
    ['watch', ['watch', 'deployments.apps'], 'GET', `${path('deployments')}?watch=true`],
    ['update', ['update', 'deployments.apps/kubeflow-metadata'], 'PUT', path('deployments', 'kubeflow-metadata'),
      { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'kubeflow-metadata' } }],
    ['delete', ['delete', 'deployments.apps/kubeflow-metadata'], 'DELETE', path('deployments', 'kubeflow-metadata')],
    ['deletecollection', ['deletecollection', 'configmaps'], 'DELETE', path('configmaps')],
    ['get of another Secret', ['get', 'secrets/someone-elses'], 'GET', path('secrets', 'someone-elses')],
    ['patch of another object', ['patch', 'configmaps/someone-elses'], 'PATCH', path('configmaps', 'someone-elses'),
      { data: { a: 'mine now' } }, 'application/merge-patch+json'],
    ['get of its own name in another namespace', ['get', `configmaps/${OWN.configmaps}`, '--namespace=default'], 'GET', path('configmaps', OWN.configmaps, 'default')],
    ['create in another namespace', ['create', 'configmaps', '--namespace=default'], 'POST', path('configmaps', '', 'default'),
      { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'intruder' } }],
    ['get of a cluster-scoped object (its namespace)', ['get', `namespaces/${NS}`], 'GET', `/api/v1/namespaces/${NS}`],
    ['list of a cluster-scoped resource (nodes)', ['list', 'nodes'], 'GET', '/api/v1/nodes'],
    ['create of a cluster-scoped object (a ClusterRoleBinding)', ['create', 'clusterrolebindings.rbac.authorization.k8s.io'], 'POST',
      '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings', { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding',
        metadata: { name: 'escalate' }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'cluster-admin' },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: DEPLOYER_USER }] }],
    ['patch of its own Role', ['patch', 'roles.rbac.authorization.k8s.io/kubeflow-metadata-deployer'], 'PATCH',
      `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles/kubeflow-metadata-deployer`, { rules: [] }, 'application/merge-patch+json'],
    ['create of a Pod (running code in the namespace)', ['create', 'pods'], 'POST', `/api/v1/namespaces/${NS}/pods`,
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'intruder' }, spec: { containers: [{ name: 'c', image: 'busybox' }] } }],
    ['watch of pods', ['watch', 'pods'], 'GET', `${path('pods')}?watch=true`],
    ['get of a pod', ['get', 'pods'], 'GET', path('pods', 'some-pod')],
    ['get of pods/log', ['get', 'pods', '--subresource=log', '-n', NS], 'GET', `${path('pods', 'some-pod')}/log`],
    ['create of pods/exec', ['create', 'pods', '--subresource=exec', '-n', NS], 'POST', `${path('pods', 'some-pod')}/exec?command=true&stdout=true`],
    ['watch of replicasets', ['watch', 'replicasets.apps'], 'GET', `${path('replicasets')}?watch=true`],
    ['create of a core-group Event', ['create', 'events.'], 'POST', path('events'),
      { apiVersion: 'v1', kind: 'Event', metadata: { name: 'core-event' }, involvedObject: { kind: 'Deployment', namespace: NS, name: 'kubeflow-metadata' },
        reason: 'RbacTest', message: 'rbac test', type: 'Normal' }],
    ['list of events.k8s.io Events', ['list', 'events.events.k8s.io'], 'GET', path('events.k8s.io/events')],
    ['get of an events.k8s.io Event', ['get', 'events.events.k8s.io/kubeflow-metadata.rbac-test'], 'GET', path('events.k8s.io/events', 'kubeflow-metadata.rbac-test')],
    ['patch of an events.k8s.io Event', ['patch', 'events.events.k8s.io/kubeflow-metadata.rbac-test'], 'PATCH', path('events.k8s.io/events', 'kubeflow-metadata.rbac-test'),
      { note: 'rewritten' }, 'application/merge-patch+json'],
  ];

  // Objects, not arrays: jest hands a `done` callback to a test function with more parameters than its row has.
  it.each(forbidden.map(([what, canIArgs, method, url, body, contentType]) => ({ what, canIArgs, method, url, body, contentType })))(
    '$what', async ({ canIArgs, method, url, body, contentType }) => {
    const [verb, resource, ...flags] = canIArgs as [string, string, ...string[]];
    const { stdout, code } = await cp.kubectl(['auth', 'can-i', verb, resource, ...(flags.length ? flags : ['-n', NS])], { as: 'deployer' });
    expect([stdout.trim(), code]).toEqual(['no', 1]);
    const answer = await asDeployer(method, url, body, contentType);
    expect([answer.status, answer.body?.reason]).toEqual([403, 'Forbidden']);
    const refused = (await cp.auditEntries()).filter((e) => e.stage === 'ResponseComplete' && e.user.username === DEPLOYER_USER
      && e.requestURI === url && e.responseStatus?.code === 403);
    expect(refused.at(-1)?.annotations?.['authorization.k8s.io/decision']).toBe('forbid');
  });

  it('the objects it may not touch are unchanged', async () => {
    expect((await cp.request('GET', path('configmaps', 'someone-elses'))).body.data).toEqual({ a: 'b' });
    expect((await cp.request('GET', '/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/escalate')).status).toBe(404);
    expect((await cp.request('GET', path('events.k8s.io/events', 'kubeflow-metadata.rbac-test'))).body.note).toBe('rbac test');
    expect((await cp.request('GET', path('events', 'core-event'))).status).toBe(404);
    expect((await cp.request('GET', `/apis/rbac.authorization.k8s.io/v1/namespaces/${NS}/roles/kubeflow-metadata-deployer`)).body.rules.length).toBeGreaterThan(0);
  });
});

describe('the status function has an identity of its own: it reads the state, nothing else', () => {
  it('GET /status works as group kubeflow-metadata-deployer-status; every Secret, other object and write is refused', async () => {
    const pair = await issueCertificate(cp.pki.dir, 'status', '/CN=kubeflow-metadata-status/O=kubeflow-metadata-deployer-status');
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromOptions({
      clusters: [{ name: 'kfm', server: cp.server, caFile: cp.caFile }],
      users: [{ name: 'status', certFile: pair.certFile, keyFile: pair.keyFile }],
      contexts: [{ name: 'status', cluster: 'kfm', user: 'status', namespace: NS }], currentContext: 'status',
    });
    const image = parseImageRef('registry.example:5000/kubeflow/metadata:1.0.0');
    const deployer = createDeployer({
      app: 'kubeflow-metadata', namespace: NS, image, tagPolicy: parseTagPolicy('track', image.tag), setStatus: true,
      target: createKubernetesTarget({ kubeConfig, namespace: NS }), logger: createLogger(() => undefined),
      fetcher: { fetch: async () => { throw new Error('status never fetches'); } },
    });
    const view = await deployer.status();
    expect(view.status.state).toBe('active'); // the state the deployer wrote above
    expect(view.config.port).toBe(9191);
    const audit = (await cp.auditEntries()).filter((e) => e.user.username === 'kubeflow-metadata-status');
    expect(audit.filter((e) => e.stage === 'ResponseComplete').map((e) => [e.verb, e.objectRef?.resource, e.responseStatus?.code]))
      .toEqual([['get', 'configmaps', 200]]);
    const as = ['--as', 'kubeflow-metadata-status', '--as-group', 'kubeflow-metadata-deployer-status', '-n', NS];
    for (const args of [['get', 'secrets/kubeflow-metadata-mysql'], ['get', 'deployments/kubeflow-metadata'], ['patch', 'configmaps/kubeflow-metadata-deployer-state'], ['list', 'configmaps'], ['get', 'configmaps/someone-elses']]) {
      const { stdout, code } = await cp.kubectl(['auth', 'can-i', ...args, ...as]);
      expect([args.join(' '), stdout.trim(), code]).toEqual([args.join(' '), 'no', 1]);
    }
    expect((await cp.kubectl(['auth', 'can-i', 'get', 'configmaps/kubeflow-metadata-deployer-state', ...as])).stdout.trim()).toBe('yes');
  });
});
