import { execFileSync } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';
import { POD_DEFAULTS, canonicalCpu, canonicalMemory, renderWorkload } from '../src/render/workload.js';
import { dockerConfigJson, pullSecretCredentials, renderPullSecret } from '../src/render/secrets.js';
import { workloadNames } from '../src/render/names.js';
import { getInfo } from '../src/charm/docker-resource.js';
import { initialState } from '../src/charm/state.js';
import type { PodSpec, StepContext } from '../src/charm/context.js';
import { kubectlPath } from './support/control-plane.js';

const DIGEST = `sha256:${'c'.repeat(64)}`;
const PASSWORD = 'S3cret-MySQL-pw!';
const spec = (authenticated: boolean): PodSpec => ({
  image: { registryPath: `registry.example:5000/kf/metadata@${DIGEST}`, digest: DIGEST, tag: '1.2.3', authenticated },
  credentials: authenticated ? { username: 'robot$ci', password: 'reg-pass:with:colons' } : undefined,
  config: { port: 9090, 'database-name': 'mlmd' },
  mysql: { host: 'mysql.db', port: 3307, user: 'root', password: PASSWORD },
  mysqlRevision: 2,
});
const all = (authenticated: boolean) => ({ podSpec: spec(authenticated), mysqlPassword: PASSWORD, registryCredentials: spec(authenticated).credentials });
const options = { generation: 7, app: 'kubeflow-metadata', namespace: 'kubeflow', names: workloadNames('kubeflow-metadata'), image: { registry: 'registry.example:5000' } };

describe('renderWorkload', () => {
  it('renders Secrets first, then the Service, then the Deployment', () => {
    expect(renderWorkload(all(true), options).map((o) => `${o.kind}/${o.metadata.name}`)).toEqual([
      'Secret/kubeflow-metadata-mysql', 'Secret/kubeflow-metadata-registry', 'Service/kubeflow-metadata', 'Deployment/kubeflow-metadata',
    ]);
    expect(renderWorkload(all(false), options).map((o) => o.kind)).toEqual(['Secret', 'Service', 'Deployment']);
  });

  it('renders the charm’s container with the password only by reference', () => {
    const deployment = renderWorkload(all(true), options).find((o) => o.kind === 'Deployment')!;
    const pod = (deployment.spec as any).template.spec;
    expect(pod.containers).toHaveLength(1);
    const [container] = pod.containers;
    expect(container.name).toBe('metadata');
    expect(container.image).toBe(`registry.example:5000/kf/metadata@${DIGEST}`);
    expect(container.command).toEqual([
      './server/server', '--http_port=9090', '--mysql_service_host=mysql.db', '--mysql_service_port=3307',
      '--mysql_service_user=root', '--mysql_service_password=$(MYSQL_ROOT_PASSWORD)', '--mlmd_db_name=mlmd',
    ]);
    expect(container.ports).toEqual([{ name: 'http', containerPort: 9090, protocol: 'TCP' }]);
    expect(container.env).toEqual([{ name: 'MYSQL_ROOT_PASSWORD', valueFrom: { secretKeyRef: { name: 'kubeflow-metadata-mysql', key: 'MYSQL_ROOT_PASSWORD' } } }]);
    expect(container.readinessProbe).toMatchObject({ httpGet: { path: '/api/v1alpha1/artifact_types', port: 'http' } });
    expect(pod.imagePullSecrets).toEqual([{ name: 'kubeflow-metadata-registry' }]);
    const text = JSON.stringify(deployment);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(Buffer.from(PASSWORD).toString('base64'));
    expect(text).not.toContain('reg-pass');
  });

  it('sets imagePullSecrets to null (absent, and removed if an earlier image left one) for an anonymous image', () => {
    const deployment = renderWorkload(all(false), options).find((o) => o.kind === 'Deployment')!;
    expect((deployment.spec as any).template.spec.imagePullSecrets).toBeNull();
  });

  it('renders the Service port http → the configured port', () => {
    const service = renderWorkload(all(false), options).find((o) => o.kind === 'Service')!;
    expect((service.spec as any).ports).toEqual([{ name: 'http', port: 9090, targetPort: 'http', protocol: 'TCP' }]);
  });

  it('keeps the MySQL password in its Secret', () => {
    const secret = renderWorkload(all(false), options)[0]!;
    expect(Buffer.from((secret.data as any).MYSQL_ROOT_PASSWORD, 'base64').toString()).toBe(PASSWORD);
  });
});

describe('the pod meets Pod Security "restricted" (proven on a real API server in e2e-server-side-apply)', () => {
  const deploymentOf = (overrides = {}) =>
    renderWorkload(all(true), { ...options, pod: overrides }).find((o) => o.kind === 'Deployment') as any;

  it('runs as a numeric non-root user, escalates nothing, drops every capability, RuntimeDefault seccomp, no token', () => {
    const pod = deploymentOf().spec.template.spec;
    expect(pod.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, fsGroup: 65532, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.containers[0].securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } });
  });

  it('requests CPU and memory and limits memory; the settings override each value', () => {
    expect(deploymentOf().spec.template.spec.containers[0].resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' }, limits: { memory: '512Mi' } });
    const custom = deploymentOf({ runAsUser: 1001, cpuRequest: '2', memoryLimit: '1Gi' }).spec.template.spec;
    expect(custom.securityContext).toMatchObject({ runAsUser: 1001, runAsGroup: POD_DEFAULTS.runAsGroup });
    expect(custom.containers[0].resources).toEqual({ requests: { cpu: '2', memory: '128Mi' }, limits: { memory: '1Gi' } });
  });

  it('probes readiness, liveness and startup on port http; startup allows a slow first MySQL connection', () => {
    const container = deploymentOf().spec.template.spec.containers[0];
    for (const probe of ['readinessProbe', 'livenessProbe', 'startupProbe']) {
      expect(container[probe].httpGet).toEqual({ path: '/api/v1alpha1/artifact_types', port: 'http' });
    }
    const budget = (p: { periodSeconds: number; failureThreshold: number }) => p.periodSeconds * p.failureThreshold;
    expect(budget(container.startupProbe)).toBeGreaterThanOrEqual(120);
    expect(budget(container.livenessProbe)).toBeGreaterThan(budget(container.readinessProbe)); // unready long before a restart
  });

  it('labels objects and pods app.kubernetes.io/*; the immutable selector has only the name, never the version', () => {
    const deployment = deploymentOf();
    const expected = {
      'app.kubernetes.io/name': 'kubeflow-metadata', 'app.kubernetes.io/instance': 'kubeflow-metadata', 'app.kubernetes.io/part-of': 'kubeflow',
      'app.kubernetes.io/managed-by': 'kubeflow-metadata-deployer', 'app.kubernetes.io/component': 'metadata-server', 'app.kubernetes.io/version': '1.2.3',
    };
    expect(deployment.metadata.labels).toEqual(expected);
    expect(deployment.spec.template.metadata.labels).toEqual(expected);
    expect(deployment.spec.selector).toEqual({ matchLabels: { 'app.kubernetes.io/name': 'kubeflow-metadata' } });
    const service = renderWorkload(all(true), options).find((o) => o.kind === 'Service') as any;
    expect(service.spec.selector).toEqual(deployment.spec.selector.matchLabels);
    expect(service.metadata.labels).not.toHaveProperty('app.kubernetes.io/version'); // a push need not rewrite the Service
    for (const secret of renderWorkload(all(true), options).filter((o) => o.kind === 'Secret')) {
      expect(secret.metadata.labels).toMatchObject({ 'app.kubernetes.io/managed-by': 'kubeflow-metadata-deployer', 'app.kubernetes.io/part-of': 'kubeflow' });
    }
  });

  it('leaves the version label out when the tag is unknown or not a valid label value', () => {
    for (const tag of [undefined, `v${'1'.repeat(63)}`, '_internal']) {
      const podSpec = { ...spec(false), image: { ...spec(false).image, tag } };
      const deployment = renderWorkload({ podSpec }, options).find((o) => o.kind === 'Deployment')!;
      expect(deployment.metadata.labels).not.toHaveProperty('app.kubernetes.io/version');
    }
  });

  it('writes quantities as the API server stores them, so a re-read compares equal', () => {
    expect(['0.5', '500m', '1', '1000m', '1.25', '2.000'].map(canonicalCpu)).toEqual(['500m', '500m', '1', '1', '1250m', '2']);
    expect(['128Mi', '1024Mi', '1048576Ki', '1536Mi', '2048Gi'].map(canonicalMemory)).toEqual(['128Mi', '1Gi', '1Gi', '1536Mi', '2Ti']);
    for (const bad of ['', '-1', '1e3', '0.0001', '100 m']) expect(() => canonicalCpu(bad)).toThrow(/CPU quantity|at least 1m/);
    for (const bad of ['128', '128M', '0Mi', '1.5Gi', '1Pi']) expect(() => canonicalMemory(bad)).toThrow(/whole number of Ki, Mi, Gi or Ti/);
  });
});

describe('pull Secret', () => {
  // The reference implementation: kubectl itself, the one the test peers build (the test fails when it is missing).
  function kubectlSecret(server: string, username: string, password: string) {
    const out = execFileSync(kubectlPath(), ['create', 'secret', 'docker-registry', 'x', `--docker-server=${server}`,
      `--docker-username=${username}`, `--docker-password=${password}`, '--dry-run=client', '-o', 'json'], { encoding: 'utf8' });
    return JSON.parse(out);
  }

  it.each([
    ['registry.example:5000', 'registry.example:5000', 'robot$ci', 'p@ss:w0rd/+='],
    ['ghcr.io', 'ghcr.io', 'octocat', 'ghp_abcdefghijklmnopqrstuvwxyz0123456789'],
    ['docker.io', 'https://index.docker.io/v1/', 'acme', 'ünïcødé pass'],
    ['123456789012.dkr.ecr.eu-west-1.amazonaws.com', '123456789012.dkr.ecr.eu-west-1.amazonaws.com', 'AWS', 'eyJwYXlsb2FkIjoi'.repeat(20)],
  ])('is byte-identical to kubectl create secret docker-registry for %s', (registry, server, username, password) => {
    const reference = kubectlSecret(server, username, password);
    const ours = renderPullSecret({ app: 'a', namespace: 'kubeflow', name: 'x', registry, credentials: { username, password } });
    expect(ours.type).toBe(reference.type);
    const decoded = Buffer.from((ours.data as any)['.dockerconfigjson'], 'base64').toString();
    expect(decoded).toBe(Buffer.from(reference.data['.dockerconfigjson'], 'base64').toString());
    expect((ours.data as any)['.dockerconfigjson']).toBe(reference.data['.dockerconfigjson']);
    expect(pullSecretCredentials(ours, registry)).toEqual({ username, password });
  });

  it('reads no credentials from a malformed Secret', () => {
    const broken = { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'x' }, data: { '.dockerconfigjson': Buffer.from('{not json').toString('base64') } };
    expect(pullSecretCredentials(broken, 'ghcr.io')).toBeUndefined();
    expect(dockerConfigJson('ghcr.io', { username: 'u', password: 'p' })).toBe('{"auths":{"ghcr.io":{"username":"u","password":"p","auth":"dTpw"}}}');
  });
});

describe('get_info', () => {
  it('fails with "resource oci-image not available" before the image is available', () => {
    const context = { flags: new Set<string>(), state: initialState(), statuses: [], credentials: {} } as unknown as StepContext;
    expect(() => getInfo(context, 'oci-image')).toThrow('resource oci-image not available');
  });
});
