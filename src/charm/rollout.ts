// The rollout's rules (issue 11), the charm's way: setting a new pod spec
// starts a rollout (`workload.rolling-out`, maintenance "rolling out"); a
// verdict, the input of an update-status step, ends it:
// - complete: active, and its image and config become the last Available ones;
// - failed: `workload.rollout-failed`, blocked "rollout failed: <reason>", the
//   digest quarantined, and (KFM_REVERT) the last Available image and config
//   set again, which starts a revert rollout. A revert is never reverted.
// The directory target has no pods: its rollouts complete in the step that starts them.
import type { Rule } from '../reactive/engine.js';
import { canonicalJson } from '../domain/canonical-json.js';
import { flag, setStatus, type PodSpec, type StepContext } from './context.js';
import type { RolloutRecord } from './state.js';

const IMAGE = 'oci-image';

/** What makes pods differ, without a secret: a spec equal to the standing rollout's starts none. */
export function specIdentity(spec: PodSpec): string {
  const { host, port, user, passwordSecretRef } = spec.mysql;
  return canonicalJson({ image: spec.image.registryPath, config: spec.config, mysql: { host, port, user, passwordSecretRef }, revision: spec.mysqlRevision });
}

const nowOf = (context: StepContext) => context.inputs.now ?? new Date(0).toISOString();

function complete(context: StepContext, rollout: RolloutRecord): void {
  context.flags.delete(flag.rollingOut);
  context.state.rollout = { ...rollout, state: 'complete', since: nowOf(context) };
  const image = context.state.resources[IMAGE];
  if (image) context.state.lastAvailable = { image: { ...image }, config: { ...context.state.config } };
}

/** Sets the last Available image and config again; the charm's start rule then sets their pod spec. */
function revert(context: StepContext): void {
  const last = context.state.lastAvailable;
  if (context.inputs.revert === false || !last) return;
  context.state.resources[IMAGE] = { ...last.image };
  context.state.config = { ...last.config };
  context.reverting = true;
  context.flags.delete(flag.started);
}

export const rolloutRules: Rule<StepContext>[] = [
  {
    name: 'workload.rollout-start',
    when: [flag.specChanged],
    run: function startRollout(context) {
      const spec = context.podSpec;
      if (!spec) return;
      const identity = specIdentity(spec);
      const standing = context.state.rollout;
      if (standing?.spec === identity) return; // the same pods: nothing rolls
      const reverting = context.reverting === true;
      if (!reverting) context.flags.delete(flag.rolloutFailed); // a new spec is tried: the block lifts
      const rollout: RolloutRecord = {
        state: 'progressing', since: nowOf(context), id: context.inputs.eventId ?? 'unknown', spec: identity, digest: spec.image.digest,
        ...(reverting ? { revert: true, reason: standing?.reason } : {}),
        ...(reverting ? { cause: `Reverted: rollout of ${standing?.digest ?? 'the new spec'} failed` } : context.inputs.cause ? { cause: context.inputs.cause } : {}),
      };
      context.state.rollout = rollout;
      if (context.inputs.verify) context.flags.add(flag.rollingOut);
      else complete(context, rollout);
    },
  },
  {
    name: 'workload.rollout-complete',
    when: [flag.rollingOut, flag.verdict('complete')],
    run: function completeRollout(context) {
      context.flags.delete(flag.verdict('complete')); // consumed: it was about this rollout only
      complete(context, context.state.rollout!);
    },
  },
  {
    name: 'workload.rollout-failed',
    when: [flag.rollingOut, flag.verdict('failed')],
    run: function failRollout(context) {
      const failed = context.state.rollout!;
      const reason = context.inputs.rollout?.reason ?? 'the rollout did not complete';
      const now = nowOf(context);
      context.flags.delete(flag.verdict('failed')); // consumed: the revert this may start is not judged by it
      context.flags.delete(flag.rollingOut);
      context.flags.add(flag.rolloutFailed);
      context.state.rollout = { ...failed, state: 'failed', since: now, reason };
      if (failed.revert) return; // the last Available spec fails too: nothing older to go back to
      const image = context.state.resources[IMAGE];
      if (image && image.digest !== context.state.lastAvailable?.image.digest) {
        context.state.quarantine[image.digest] = { reason, at: now, ...(image.tag ? { tag: image.tag } : {}) };
      }
      revert(context);
    },
  },
  {
    name: 'workload.rolling-out-status',
    when: [flag.rollingOut],
    whenNot: [flag.rolloutFailed],
    run: (context) => setStatus(context, 'maintenance', 'rolling out'),
  },
  {
    name: 'workload.rollout-failed-status',
    when: [flag.rolloutFailed],
    run: (context) => setStatus(context, 'blocked', `rollout failed: ${context.state.rollout?.reason ?? 'unknown'}`),
  },
];
