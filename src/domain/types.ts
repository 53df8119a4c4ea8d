// The domain's shared vocabulary: what handlers normalise webhooks into, and
// what the adapters (fetcher, target) exchange with the core. Types only.

/** Which webhook format a push came in (route `/webhooks/registry/{provider}`), or ECR's EventBridge. */
export type Provider = 'distribution' | 'dockerhub' | 'harbor' | 'quay' | 'acr' | 'ghcr' | 'generic' | 'ecr';

/** A rollout verdict reached by the shell (src/rollout/): the input of an update-status step. */
export interface RolloutVerdict {
  state: 'complete' | 'failed';
  reason?: string;
}

/** One image push, normalised from any registry's payload. */
export interface PushEvent {
  provider: Provider;
  /** Registry host the payload names, when it names one (compared with `KFM_IMAGE`, never contacted). */
  registry?: string;
  repository: string;
  tag?: string;
  digest?: string;
  /** ISO 8601; orders deliveries so a late, older push never replaces a newer one. */
  pushedAt?: string;
}

/** A parser's answer: the pushes worth looking at, and why the rest of the payload was ignored. */
export interface ParsedPushes {
  events: PushEvent[];
  ignored: string[];
}

export interface RegistryCredentials {
  username: string;
  password: string;
}

/** What the docker-resource layer stores for a fetched resource (its `get_info`). */
export interface ImageInfo {
  /** `registry/repository@sha256:…` — pinned by digest. */
  registryPath: string;
  digest: string;
  tag?: string;
  pushedAt?: string;
  /** Absent for anonymous pulls. Never persisted in state, logs or responses. */
  credentials?: RegistryCredentials;
}

/** A key of an existing Secret in the workload's namespace: the container reads it, the deployer never does. */
export interface SecretKeyRef {
  name: string;
  key: string;
}

/** The relation's data: the password itself (stored in the deployer's own Secret), or a reference to one. */
export type MysqlRelation = { host: string; port: number; user: string } & (
  | { password: string; passwordSecretRef?: undefined }
  | { password?: undefined; passwordSecretRef: SecretKeyRef }
);

export interface CharmConfig {
  port: number;
  'database-name': string;
}

export type WorkloadState = 'active' | 'maintenance' | 'blocked' | 'waiting';

export interface Status {
  state: WorkloadState;
  message: string;
}

/** A Kubernetes object as the targets store it (plain JSON). */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}
