// The target port: where the workload's objects and the reactive state live.
// Adapters: the local directory (the embedded default) and Kubernetes.
import type { KubeObject } from '../domain/types.js';

export type WriteOutcome = 'created' | 'patched' | 'unchanged';

export interface ObjectKey {
  kind: string;
  name: string;
}

/** Per call: the invocation that is running it. */
export interface CallOptions {
  /** Milliseconds left in the invocation (Lambda's getRemainingTimeInMillis); bounds retries and timeouts. */
  deadline?: () => number;
}

export interface Target {
  /** Human-readable place, for logs and `npm start` (`dir:.kfm`, `kubernetes:https://…`). */
  readonly description: string;
  /** The live object, with `metadata.resourceVersion` set; undefined when absent. */
  read(key: ObjectKey, options?: CallOptions): Promise<KubeObject | undefined>;
  /**
   * Makes the object equal `desired`: creates it when `live` is undefined, else
   * writes only what differs, conditioned on `live.metadata.resourceVersion`.
   * Throws ConflictError when the object changed since `live` was read (or was
   * created meanwhile), TargetError when the write fails for good.
   */
  write(desired: KubeObject, live: KubeObject | undefined, options?: CallOptions): Promise<WriteOutcome>;
}
