// The parts of a Deployment, its ReplicaSets and its Pods that the rollout verdict
// reads, as zod/mini schemas: the watcher parses every API answer with them, so
// the verdict (verdict.ts) works on checked shapes and never on `any`. Lenient on
// purpose: every field is optional (the API omits zero values: a Deployment with
// no available replica has no `availableReplicas`), unknown fields are dropped
// (a Pod list carries other workloads' specs, env values included: nothing of
// that is kept, let alone logged), and only a wrong type is an error.
import * as z from 'zod/mini';
import { lazy } from '../validation.js';

const labels = () => z.optional(z.record(z.string(), z.string()));
const condition = () =>
  z.object({
    type: z.string(),
    status: z.optional(z.string()),
    reason: z.optional(z.string()),
    message: z.optional(z.string()),
    lastUpdateTime: z.optional(z.string()),
  });
const meta = () =>
  z.object({
    name: z.optional(z.string()),
    uid: z.optional(z.string()),
    generation: z.optional(z.number()),
    labels: labels(),
    annotations: labels(),
    deletionTimestamp: z.optional(z.string()),
    ownerReferences: z.optional(z.array(z.object({ uid: z.optional(z.string()), kind: z.optional(z.string()) }))),
  });
const containers = () => z.optional(z.array(z.object({ name: z.optional(z.string()), image: z.optional(z.string()) })));

export const deploymentSchema = lazy(() =>
  z.object({
    metadata: meta(),
    spec: z.optional(z.object({
      replicas: z.optional(z.number()),
      paused: z.optional(z.boolean()),
      progressDeadlineSeconds: z.optional(z.number()),
      template: z.optional(z.object({ spec: z.optional(z.object({ containers: containers() })) })),
    })),
    status: z.optional(z.object({
      observedGeneration: z.optional(z.number()),
      replicas: z.optional(z.number()),
      updatedReplicas: z.optional(z.number()),
      readyReplicas: z.optional(z.number()),
      availableReplicas: z.optional(z.number()),
      unavailableReplicas: z.optional(z.number()),
      conditions: z.optional(z.array(condition())),
    })),
  }));

const containerStatus = () =>
  z.object({
    name: z.optional(z.string()),
    image: z.optional(z.string()),
    ready: z.optional(z.boolean()),
    restartCount: z.optional(z.number()),
    state: z.optional(z.object({
      waiting: z.optional(z.object({ reason: z.optional(z.string()), message: z.optional(z.string()) })),
      running: z.optional(z.object({})),
      terminated: z.optional(z.object({ reason: z.optional(z.string()), exitCode: z.optional(z.number()) })),
    })),
  });

export const podSchema = lazy(() =>
  z.object({
    metadata: meta(),
    spec: z.optional(z.object({ containers: containers(), initContainers: containers() })),
    status: z.optional(z.object({
      phase: z.optional(z.string()),
      reason: z.optional(z.string()),
      conditions: z.optional(z.array(condition())),
      containerStatuses: z.optional(z.array(containerStatus())),
      initContainerStatuses: z.optional(z.array(containerStatus())),
    })),
  }));

export const replicaSetSchema = lazy(() =>
  z.object({ metadata: meta(), spec: z.optional(z.object({ template: z.optional(z.object({ spec: z.optional(z.object({ containers: containers() })) })) })) }));

/** A LIST answer: `{items: [...]}`; each item parsed with `item`. */
export function listSchema<S extends z.ZodMiniType>(item: S) {
  return z.object({ items: z.nullable(z.optional(z.array(item))) });
}

export type Deployment = z.output<ReturnType<typeof deploymentSchema>>;
export type Pod = z.output<ReturnType<typeof podSchema>>;
export type ReplicaSet = z.output<ReturnType<typeof replicaSetSchema>>;
export type Condition = z.output<ReturnType<typeof condition>>;

/** The annotation the Deployment controller keeps equal on a Deployment and its newest ReplicaSet. */
export const REVISION_ANNOTATION = 'deployment.kubernetes.io/revision';
/** The label the Deployment controller gives a ReplicaSet and its pods: the hash of their template. */
export const TEMPLATE_HASH_LABEL = 'pod-template-hash';
