import { execFileSync } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';
import { renderWorkload } from '../src/render/workload.js';
import { dockerConfigJson, pullSecretCredentials, renderPullSecret } from '../src/render/secrets.js';
import { workloadNames } from '../src/render/names.js';
import { getInfo } from '../src/charm/docker-resource.js';
import { initialState } from '../src/charm/state.js';
import type { PodSpec, StepContext } from '../src/charm/context.js';

const DIGEST = `sha256:${'c'.repeat(64)}`;
const PASSWORD = 'S3cret-MySQL-pw!';
const spec = (authenticated: boolean): PodSpec => ({
  image: { registryPath: `registry.example:5000/kf/metadata@${DIGEST}`, digest: DIGEST, authenticated },
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
    expect(container.readinessProbe).toEqual({ httpGet: { path: '/api/v1alpha1/artifact_types', port: 'http' } });
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

describe('pull Secret', () => {
  // The reference implementation: kubectl itself (the test fails when kubectl is missing).
  function kubectlSecret(server: string, username: string, password: string) {
    const out = execFileSync('kubectl', ['create', 'secret', 'docker-registry', 'x', `--docker-server=${server}`,
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
