// The Deployment and Service the charm's pod spec described, rendered for
// Kubernetes. Pure. No secret value ever appears here: the password reaches
// the container through a secretKeyRef and the command names it `$(…)`.
//
// The pod meets the Pod Security "restricted" profile by default (admitted in a
// namespace labelled pod-security.kubernetes.io/enforce=restricted): non-root
// with a numeric user (the kubelet can only check runAsNonRoot against a number
// when the image's USER is a name or root), no privilege escalation, every
// capability dropped, the runtime's default seccomp profile. Where the image
// needs another user or more memory, PodOptions (from KFM_* settings) say so.
import type { KubeObject, RegistryCredentials } from '../domain/types.js';
import type { PodSpec } from '../charm/context.js';
import { CHANGE_CAUSE_ANNOTATION, GENERATION_ANNOTATION, MYSQL_PASSWORD_KEY, ownedLabels, selectorLabels, type WorkloadNames } from './names.js';
import { renderMysqlSecret, renderPullSecret } from './secrets.js';
import type { ImageRef } from '../image/reference.js';

export interface RenderOptions {
  /** The state generation this rendering belongs to, stamped on the Deployment and Service. */
  generation: number;
  app: string;
  namespace: string;
  names: WorkloadNames;
  image: Pick<ImageRef, 'registry'>;
  /** The pod's user and resources; each unset value takes POD_DEFAULTS'. */
  pod?: Partial<PodOptions>;
  /** `kubectl rollout history`'s CHANGE-CAUSE: why the standing template was set (src/record/trigger.ts's changeCause). */
  changeCause?: string;
}

export interface PodOptions {
  /** Numeric uid (not 0) and gid the container runs as; the gid also owns mounted volumes (fsGroup). */
  runAsUser: number;
  runAsGroup: number;
  /** Canonical quantities (see canonicalCpu / canonicalMemory): the API server stores them so. */
  cpuRequest: string;
  memoryRequest: string;
  memoryLimit: string;
  /** The Deployment controller's ProgressDeadlineExceeded after this long without progress (KFM_PROGRESS_DEADLINE_SECONDS). */
  progressDeadlineSeconds: number;
}

/** 65532: the conventional non-root uid of distroless images; the rest sized for one MLMD server. */
export const POD_DEFAULTS: PodOptions = { runAsUser: 65532, runAsGroup: 65532, cpuRequest: '100m', memoryRequest: '128Mi', memoryLimit: '512Mi', progressDeadlineSeconds: 300 };

/**
 * CPU as the API server stores it (`0.5` → `500m`, `1000m` → `1`): a desired
 * value written otherwise would never compare equal, and every event would
 * write. Millicore precision, at least 1m.
 */
export function canonicalCpu(text: string): string {
  const match = /^(?:(\d{1,12})m|(\d{1,9})(?:\.(\d{1,3}))?)$/.exec(text);
  if (!match) throw new Error('must be a CPU quantity such as "100m", "0.5" or "2"');
  const millis = match[1] !== undefined ? Number(match[1]) : Number(match[2]) * 1000 + Number((match[3] ?? '').padEnd(3, '0'));
  if (!Number.isSafeInteger(millis) || millis < 1) throw new Error('must be at least 1m');
  return millis % 1000 === 0 ? String(millis / 1000) : `${millis}m`;
}

const BINARY = ['Ki', 'Mi', 'Gi', 'Ti'];

/** Memory with a binary suffix, as the API server stores it (`1024Mi` → `1Gi`). */
export function canonicalMemory(text: string): string {
  const match = /^(\d{1,12})(Ki|Mi|Gi|Ti)$/.exec(text);
  if (!match || Number(match[1]) < 1) throw new Error('must be a whole number of Ki, Mi, Gi or Ti, such as "128Mi"');
  let [value, exponent] = [Number(match[1]), BINARY.indexOf(match[2]!)];
  while (exponent < BINARY.length - 1 && value % 1024 === 0) [value, exponent] = [value / 1024, exponent + 1];
  return `${value}${BINARY[exponent]}`;
}

/** Bytes of a canonicalMemory value, to check that a limit is not below its request. */
export const memoryBytes = (text: string): number => Number(/^\d+/.exec(text)?.[0]) * 1024 ** (BINARY.indexOf(text.replace(/^\d+/, '')) + 1);

const READINESS_PATH = '/api/v1alpha1/artifact_types';
/**
 * Every probe asks the same endpoint (the server has no health path of its own).
 * Startup gives the server 5 min to reach MySQL; after that, liveness restarts it
 * only after 2 min of failures, so a short database outage is not a restart loop.
 */
const probe = (extra: Record<string, number>) => ({ httpGet: { path: READINESS_PATH, port: 'http' }, timeoutSeconds: 5, ...extra });
/** A label value (≤ 63 characters, alphanumerics, `-_.` inside): the tag, when it is one. */
const LABEL_VALUE = /^(?=.{1,63}$)[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const COMPONENT = 'metadata-server';
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
  const pod = { ...POD_DEFAULTS, ...options.pod };
  const tag = spec.image.tag;
  // The version changes with every push: on the Deployment and its pods, never in the selector.
  const labels = {
    ...ownedLabels(options.app),
    'app.kubernetes.io/component': COMPONENT,
    ...(tag && LABEL_VALUE.test(tag) ? { 'app.kubernetes.io/version': tag } : {}),
  };
  const container = {
    name: 'metadata',
    image: spec.image.registryPath,
    command: serverCommand(spec),
    ports: [{ name: 'http', containerPort: spec.config.port, protocol: 'TCP' }],
    // The deployer's own Secret, or the existing one the relation names (passwordSecretRef).
    env: [{ name: MYSQL_PASSWORD_KEY, valueFrom: { secretKeyRef: spec.mysql.passwordSecretRef ? { name: spec.mysql.passwordSecretRef.name, key: spec.mysql.passwordSecretRef.key } : { name: options.names.mysqlSecret, key: MYSQL_PASSWORD_KEY } } }],
    resources: {
      requests: { cpu: pod.cpuRequest, memory: pod.memoryRequest },
      limits: { memory: pod.memoryLimit }, // no CPU limit: throttling would only slow the server down
    },
    readinessProbe: probe({ periodSeconds: 10, failureThreshold: 3 }),
    startupProbe: probe({ periodSeconds: 5, failureThreshold: 60 }),
    livenessProbe: probe({ periodSeconds: 20, failureThreshold: 6 }),
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
  };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: options.names.deployment, namespace: options.namespace, labels,
      annotations: { ...stamp(options), ...(options.changeCause ? { [CHANGE_CAUSE_ANNOTATION]: options.changeCause } : {}) },
    },
    spec: {
      replicas: 1,
      progressDeadlineSeconds: pod.progressDeadlineSeconds,
      selector: { matchLabels: selectorLabels(options.app) },
      template: {
        // The revision, not the password, changes when MySQL does, so pods restart to read the new Secret.
        metadata: { labels, annotations: { [REVISION_ANNOTATION]: String(spec.mysqlRevision) } },
        spec: {
          // The server never calls the Kubernetes API: no token in the pod.
          automountServiceAccountToken: false,
          securityContext: {
            runAsNonRoot: true,
            runAsUser: pod.runAsUser,
            runAsGroup: pod.runAsGroup,
            fsGroup: pod.runAsGroup,
            seccompProfile: { type: 'RuntimeDefault' },
          },
          containers: [container],
          // An anonymous image wants no pull Secret: null removes one an earlier authenticated image left
          // (an empty list would not: the API server drops it, so it could never match).
          imagePullSecrets: spec.image.authenticated ? [{ name: options.names.pullSecret }] : null,
        },
      },
    },
  };
}

export function renderService(spec: PodSpec, options: RenderOptions): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: {
      name: options.names.service,
      namespace: options.namespace,
      labels: { ...ownedLabels(options.app), 'app.kubernetes.io/component': COMPONENT },
      annotations: stamp(options),
    },
    spec: {
      selector: selectorLabels(options.app),
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
