// The Deployment and Service the charm's pod spec described, rendered for
// Kubernetes. Pure. No secret value ever appears here: the password reaches
// the container through a secretKeyRef and the command names it `$(…)`.
import type { KubeObject, RegistryCredentials } from '../domain/types.js';
import type { PodSpec } from '../charm/context.js';
import { GENERATION_ANNOTATION, MYSQL_PASSWORD_KEY, ownedLabels, type WorkloadNames } from './names.js';
import { renderMysqlSecret, renderPullSecret } from './secrets.js';
import type { ImageRef } from '../image/reference.js';

export interface RenderOptions {
  /** The state generation this rendering belongs to, stamped on the Deployment and Service. */
  generation: number;
  app: string;
  namespace: string;
  names: WorkloadNames;
  image: Pick<ImageRef, 'registry'>;
}

const READINESS_PATH = '/api/v1alpha1/artifact_types';
const REVISION_ANNOTATION = 'kubeflow-metadata-deployer/mysql-revision';

const stamp = (options: RenderOptions) => ({ [GENERATION_ANNOTATION]: String(options.generation) });

/** The server's command line, as the charm built it (the password by reference). */
export function serverCommand(spec: PodSpec): string[] {
  return [
    './server/server',
    `--http_port=${spec.config.port}`,
    `--mysql_service_host=${spec.mysql.host}`,
    `--mysql_service_port=${spec.mysql.port}`,
    `--mysql_service_user=${spec.mysql.user}`,
    `--mysql_service_password=$(${MYSQL_PASSWORD_KEY})`,
    `--mlmd_db_name=${spec.config['database-name']}`,
  ];
}

export function renderDeployment(spec: PodSpec, options: RenderOptions): KubeObject {
  const labels = ownedLabels(options.app);
  const selector = { 'app.kubernetes.io/name': options.app };
  const container = {
    name: 'metadata',
    image: spec.image.registryPath,
    command: serverCommand(spec),
    ports: [{ name: 'http', containerPort: spec.config.port, protocol: 'TCP' }],
    env: [{ name: MYSQL_PASSWORD_KEY, valueFrom: { secretKeyRef: { name: options.names.mysqlSecret, key: MYSQL_PASSWORD_KEY } } }],
    readinessProbe: { httpGet: { path: READINESS_PATH, port: 'http' } },
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: options.names.deployment, namespace: options.namespace, labels, annotations: stamp(options) },
    spec: {
      replicas: 1,
      selector: { matchLabels: selector },
      template: {
        // The revision, not the password, changes when MySQL does, so pods restart to read the new Secret.
        metadata: { labels, annotations: { [REVISION_ANNOTATION]: String(spec.mysqlRevision) } },
        // An anonymous image wants no pull Secret: null removes one an earlier authenticated image left
        // (an empty list would not: the API server drops it, so it could never match).
        spec: { containers: [container], imagePullSecrets: spec.image.authenticated ? [{ name: options.names.pullSecret }] : null },
      },
    },
  };
}

export function renderService(spec: PodSpec, options: RenderOptions): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: options.names.service, namespace: options.namespace, labels: ownedLabels(options.app), annotations: stamp(options) },
    spec: {
      selector: { 'app.kubernetes.io/name': options.app },
      ports: [{ name: 'http', port: spec.config.port, targetPort: 'http', protocol: 'TCP' }],
    },
  };
}

export interface DesiredWorkload {
  podSpec?: PodSpec;
  mysqlPassword?: string;
  registryCredentials?: RegistryCredentials;
}

/**
 * Every object to converge to, in the order they must be written: the Secrets
 * (written as soon as their data is known: they store the relation's password
 * and the fetched credentials) before the Deployment that references them, so
 * a failure part-way never leaves pods pointing at a missing Secret.
 */
export function renderWorkload(desired: DesiredWorkload, options: RenderOptions): KubeObject[] {
  const common = { app: options.app, namespace: options.namespace };
  const objects: KubeObject[] = [];
  if (desired.mysqlPassword !== undefined) {
    objects.push(renderMysqlSecret({ ...common, name: options.names.mysqlSecret, password: desired.mysqlPassword }));
  }
  if (desired.registryCredentials) {
    objects.push(renderPullSecret({ ...common, name: options.names.pullSecret, registry: options.image.registry, credentials: desired.registryCredentials }));
  }
  if (desired.podSpec) objects.push(renderService(desired.podSpec, options), renderDeployment(desired.podSpec, options));
  return objects;
}
