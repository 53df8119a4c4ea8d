// The rollout verdict, pure: from one observation of a Deployment, its
// ReplicaSets and its pods, is the rollout complete, failed, or still going?
//
// - Nothing is decided before the Deployment controller has seen the current
//   spec (status.observedGeneration ≥ metadata.generation): until then every
//   count and condition describes an older template, and its failure is not
//   this rollout's.
// - Failed: a pod of the NEW template waits with a reason that does not cure
//   itself (FAILURE_REASONS), or the controller gave up (Progressing=False,
//   ProgressDeadlineExceeded: the "readiness never reached" case). A crash-looping
//   pod of the OLD ReplicaSet is not this rollout's failure, so pods are matched
//   to the newest ReplicaSet by pod-template-hash; without ReplicaSets, by their
//   images (which cannot tell a config-only change's new pods from old ones).
// - Complete: every replica is updated and available and no old one is left
//   (updatedReplicas = replicas = availableReplicas = spec.replicas), the
//   strict form of `kubectl rollout status`'s test.
// The reason names the pod and its condition ("pod kubeflow-metadata-5d9-x2
// CrashLoopBackOff"): it becomes `blocked "rollout failed: <reason>"`.
import { REVISION_ANNOTATION, TEMPLATE_HASH_LABEL, type Deployment, type Pod, type ReplicaSet } from './objects.js';

export type RolloutState = 'complete' | 'failed' | 'progressing';

export interface Verdict {
  state: RolloutState;
  /** Why it failed (names the pod condition), or what it still waits for. */
  reason?: string;
  /** The kubelet's or controller's own words for the failure, single line, at most 200 characters. */
  message?: string;
}

export interface RolloutObservation {
  deployment: Deployment;
  /** The pods the Deployment's selector matches (old and new). */
  pods: readonly Pod[];
  /** The ReplicaSets of the namespace (or of the selector); when absent, new pods are told by image. */
  replicaSets?: readonly ReplicaSet[];
}

/**
 * Waiting reasons of a container that mean the new template does not run. Each is
 * retried by the kubelet forever, never fixed by waiting: a wrong image, a
 * missing Secret key, a command that exits.
 */
export const FAILURE_REASONS: ReadonlySet<string> = new Set([
  'CrashLoopBackOff', 'ImagePullBackOff', 'ErrImagePull', 'ErrImageNeverPull', 'InvalidImageName',
  'CreateContainerConfigError', 'CreateContainerError', 'RunContainerError',
]);

export interface VerdictOptions {
  /** Replaces FAILURE_REASONS (e.g. to let ErrImagePull retry until the deadline). */
  failureReasons?: ReadonlySet<string>;
  /**
   * The API server's time (RFC 3339) of the write that started this rollout: the `time` of the
   * Deployment's managedFields entry for kubeflow-metadata-deployer in the apply's answer. A
   * rollout back to a template whose ReplicaSet still exists (a revert, a pin of an older digest)
   * keeps the Progressing condition of the rollout before it: a ProgressDeadlineExceeded last
   * updated at or before `since` is that one's, not this one's. (On a real control plane the
   * controller usually replaces it in the same status write that bumps observedGeneration, since
   * scaling the failed ReplicaSet down counts as progress; when nothing moves in that sync — the
   * failed ReplicaSet had no pods — the stale condition would fail the revert.)
   */
  since?: string;
}

const oneLine = (text: string | undefined): string | undefined =>
  text ? text.replace(/\s+/g, ' ').trim().slice(0, 200) || undefined : undefined;

export function rolloutVerdict(observed: RolloutObservation, options: VerdictOptions = {}): Verdict {
  const { deployment } = observed;
  const generation = deployment.metadata.generation;
  const seen = deployment.status?.observedGeneration;
  if (generation === undefined || seen === undefined || seen < generation) {
    return { state: 'progressing', reason: `waiting for the Deployment controller to observe generation ${generation ?? '?'}` };
  }
  // The controller can report the new generation observed in a sync that has not yet made the
  // matching ReplicaSet its newest (seen on a revert to an existing one): its pods are not this rollout's.
  const newest = observed.replicaSets ? newestReplicaSet(deployment, observed.replicaSets) : undefined;
  const newestImages = images(newest?.spec?.template?.spec?.containers);
  if (newest && newestImages !== '' && newestImages !== images(deployment.spec?.template?.spec?.containers)) {
    return { state: 'progressing', reason: 'waiting for the Deployment controller to select the new ReplicaSet' };
  }
  const pods = newPods(observed);
  const failing = podFailure(pods, options.failureReasons ?? FAILURE_REASONS);
  if (failing) return { state: 'failed', ...failing };

  const conditions = deployment.status?.conditions ?? [];
  const progressing = conditions.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded' && progressing.status !== 'True' && !earlier(progressing.lastUpdateTime, options.since)) {
    const replicaFailure = conditions.find((c) => c.type === 'ReplicaFailure' && c.status === 'True');
    const why = notReady(pods) ?? (replicaFailure ? `${replicaFailure.reason ?? 'ReplicaFailure'}` : undefined);
    return {
      state: 'failed',
      reason: why ? `ProgressDeadlineExceeded: ${why}` : 'ProgressDeadlineExceeded',
      message: oneLine(replicaFailure?.message ?? progressing.message),
    };
  }

  const want = deployment.spec?.replicas ?? 1;
  const status = deployment.status ?? {};
  const [updated, total, available] = [status.updatedReplicas ?? 0, status.replicas ?? 0, status.availableReplicas ?? 0];
  if (updated === want && total === want && available === want) return { state: 'complete' };
  const waiting =
    updated < want ? `${updated} of ${want} updated replicas`
      : total > updated ? `${total - updated} old replicas pending termination`
        : `${available} of ${updated} updated replicas available`;
  const pod = notReady(pods);
  const paused = deployment.spec?.paused ? 'the Deployment is paused; ' : '';
  return { state: 'progressing', reason: `${paused}${waiting}${pod ? ` (${pod})` : ''}` };
}

/** Whether `time` is at or before `since` (both RFC 3339, second resolution): a condition of an earlier rollout. */
function earlier(time: string | undefined, since: string | undefined): boolean {
  if (time === undefined || since === undefined) return false;
  const [t, s] = [Date.parse(time), Date.parse(since)];
  return Number.isFinite(t) && Number.isFinite(s) && t <= s;
}

/** The pods of the current template, by the newest ReplicaSet's hash (or by image); terminating ones left out. */
export function newPods(observed: RolloutObservation): Pod[] {
  const { deployment } = observed;
  const live = observed.pods.filter((pod) => pod.metadata.deletionTimestamp === undefined);
  if (observed.replicaSets) {
    const hash = newestTemplateHash(deployment, observed.replicaSets);
    return hash === undefined ? [] : live.filter((pod) => pod.metadata.labels?.[TEMPLATE_HASH_LABEL] === hash);
  }
  const want = images(deployment.spec?.template?.spec?.containers);
  if (want === '') return [];
  return live.filter((pod) => images(pod.spec?.containers) === want);
}

/**
 * The pod-template-hash of the Deployment's newest ReplicaSet: the one it owns
 * whose revision equals the Deployment's own revision annotation (the
 * controller sets both when it creates or adopts the new ReplicaSet).
 */
function newestTemplateHash(deployment: Deployment, replicaSets: readonly ReplicaSet[]): string | undefined {
  return newestReplicaSet(deployment, replicaSets)?.metadata.labels?.[TEMPLATE_HASH_LABEL];
}

function newestReplicaSet(deployment: Deployment, replicaSets: readonly ReplicaSet[]): ReplicaSet | undefined {
  const revision = deployment.metadata.annotations?.[REVISION_ANNOTATION];
  if (revision === undefined) return undefined;
  const uid = deployment.metadata.uid;
  return replicaSets.find((rs) =>
    rs.metadata.annotations?.[REVISION_ANNOTATION] === revision &&
    (uid === undefined || (rs.metadata.ownerReferences ?? []).some((owner) => owner.uid === uid)));
}

const images = (containers: ReadonlyArray<{ image?: string }> | undefined): string =>
  (containers ?? []).map((c) => c.image ?? '').join('\n');

const byName = (a: Pod, b: Pod) => (a.metadata.name ?? '').localeCompare(b.metadata.name ?? '');

/** The first new pod (by name) with a container waiting for a failure reason. */
function podFailure(pods: readonly Pod[], reasons: ReadonlySet<string>): Omit<Verdict, 'state'> | undefined {
  for (const pod of [...pods].sort(byName)) {
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    for (const container of statuses) {
      const waiting = container.state?.waiting;
      if (waiting?.reason && reasons.has(waiting.reason)) {
        return { reason: `pod ${pod.metadata.name ?? '?'} ${waiting.reason}`, message: oneLine(waiting.message) };
      }
    }
  }
  return undefined;
}

/** `pod <name> <what keeps it from Ready>` for the first new pod that is not Ready. */
function notReady(pods: readonly Pod[]): string | undefined {
  const pod = [...pods].sort(byName).find((p) => !hasCondition(p, 'Ready'));
  if (!pod) return undefined;
  const unscheduled = pod.status?.conditions?.find((c) => c.type === 'PodScheduled' && c.status === 'False');
  const waiting = [...(pod.status?.containerStatuses ?? [])].find((c) => c.state?.waiting?.reason)?.state?.waiting?.reason;
  const what = unscheduled ? (unscheduled.reason ?? 'not scheduled') : waiting ?? `${pod.status?.phase ?? 'Pending'}, not Ready`;
  return `pod ${pod.metadata.name ?? '?'} ${what}`;
}

const hasCondition = (pod: Pod, type: string): boolean =>
  (pod.status?.conditions ?? []).some((c) => c.type === type && c.status === 'True');
