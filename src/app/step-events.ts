// What a stored step tells operators, pure: the Kubernetes Events (reason,
// summary, trigger) from the state before and after it, and which of them are
// verdicts (each announced once through the Notifier). Derived from the states,
// not from the code path, so a recomputed step tells the same story.
import type { CharmState } from '../charm/state.js';
import type { DeployerEvent } from '../record/events.js';
import type { Trigger as EventTrigger } from '../record/trigger.js';
import { canonicalJson } from '../domain/canonical-json.js';
import { flag } from '../charm/context.js';

const VERDICTS: ReadonlySet<string> = new Set(['RolloutComplete', 'RolloutFailed']);

/** Whether an Event is a rollout verdict (the Notifier's business). */
export const isVerdict = (event: DeployerEvent): boolean => VERDICTS.has(event.reason);

const imageOf = (state: CharmState | undefined) => state?.resources['oci-image'];
const configOf = (state: CharmState | undefined) => canonicalJson({ config: state?.config, mysql: state?.mysql, revision: state?.mysqlRevision });

/** The Events of one stored step, in the order they happened. */
export function stepEvents(before: CharmState | undefined, after: CharmState, trigger: EventTrigger): DeployerEvent[] {
  const events: DeployerEvent[] = [];
  const [was, now] = [imageOf(before), imageOf(after)];
  const [standing, rollout] = [before?.rollout, after.rollout];
  const fromTo = { from: was?.registryPath, to: now?.registryPath, tag: now?.tag, digest: now?.digest };
  // A revert starts a rollout of its own: the last Available spec again.
  const reverted = rollout?.revert === true && rollout.spec !== standing?.spec;
  if (standing?.state === 'progressing' && rollout) {
    const same = rollout.spec === standing.spec;
    if (same && rollout.state === 'complete') {
      events.push({ reason: 'RolloutComplete', summary: `rollout of ${rollout.digest ?? 'the new spec'} complete`, trigger: { ...trigger, provider: 'rollout', digest: rollout.digest } });
    }
    if ((same && rollout.state === 'failed') || reverted) {
      events.push({ reason: 'RolloutFailed', summary: `rollout failed: ${rollout.reason ?? 'unknown'}`, trigger: { ...trigger, provider: 'rollout', digest: standing.digest } });
    }
  }
  for (const digest of Object.keys(after.quarantine)) {
    if (!before?.quarantine[digest]) events.push({ reason: 'Quarantined', summary: `${digest} quarantined: ${after.quarantine[digest]!.reason}`, trigger: { ...trigger, digest } });
  }
  if (reverted) {
    events.push({ reason: 'Reverted', summary: `reverted to the last Available image ${now?.registryPath ?? '?'}`, trigger: { ...trigger, provider: 'rollout', ...fromTo } });
  } else if (now && was?.digest !== now.digest && after.flags.includes(flag.started)) { // on the Deployment, not just fetched
    events.push({ reason: 'ImageUpdated', summary: `image ${now.tag ?? now.digest}`, trigger: { ...trigger, ...fromTo } });
  }
  if (before && configOf(before) !== configOf(after) && !reverted) {
    events.push({ reason: 'ConfigApplied', summary: 'config or mysql relation changed', trigger });
  }
  events.push(...controlEvents(before, after, trigger));
  return events;
}

function controlEvents(before: CharmState | undefined, after: CharmState, trigger: EventTrigger): DeployerEvent[] {
  const events: DeployerEvent[] = [];
  const [pinBefore, pin] = [before?.control.pin, after.control.pin];
  if (pin && canonicalJson(pin) !== canonicalJson(pinBefore ?? null)) events.push({ reason: 'Pinned', summary: `pinned to ${pin.tag ?? pin.digest}`, trigger });
  if (pinBefore && !pin) events.push({ reason: 'Unpinned', summary: 'pin lifted: the policy decides again', trigger });
  if (after.control.suspended && !before?.control.suspended) events.push({ reason: 'Suspended', summary: 'automation suspended: pushes are ignored', trigger });
  if (before?.control.suspended && !after.control.suspended) events.push({ reason: 'Resumed', summary: 'automation resumed', trigger });
  for (const digest of Object.keys(before?.quarantine ?? {})) {
    if (!after.quarantine[digest]) events.push({ reason: 'Unquarantined', summary: `${digest} may be deployed again`, trigger: { ...trigger, digest } });
  }
  return events;
}
