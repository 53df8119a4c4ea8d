// Which of a webhook's pushes the deployer acts on, pure: the registry and
// repository of KFM_IMAGE, a tag inside the policy, and newer than what runs.
import type { PushEvent } from '../domain/types.js';
import { normaliseRegistry, normaliseRepository, type ImageRef } from '../image/reference.js';
import { isUpgrade, tagAllowed, type TagPolicy } from '../policy/tag-policy.js';
import type { ResourceInfo } from '../charm/state.js';

export interface PushSelection {
  chosen?: PushEvent;
  ignored: string[];
}

function describe(event: PushEvent): string {
  return `${event.repository}:${event.tag ?? event.digest ?? '?'}`;
}

/** Why an event is not for this deployer, or undefined when it is (decided without state: intake uses it too). */
export function pushMismatch(event: PushEvent, image: ImageRef, policy: TagPolicy): string | undefined {
  if (event.registry !== undefined && normaliseRegistry(event.registry) !== image.registry) {
    return `${describe(event)}: registry ${event.registry} is not ${image.registry}`;
  }
  const registry = event.registry ?? image.registry;
  if (normaliseRepository(registry, event.repository) !== image.repository) {
    return `${describe(event)}: repository is not ${image.repository}`;
  }
  if (!event.tag) return `${describe(event)}: pushed by digest, without a tag`;
  if (!tagAllowed(policy, event.tag)) return `${describe(event)}: tag outside the policy`;
  return undefined;
}

/** Picks the newest acceptable push of a batch; everything else is ignored with a reason. */
export function selectPush(
  events: readonly PushEvent[],
  image: ImageRef,
  policy: TagPolicy,
  deployed: ResourceInfo | undefined,
): PushSelection {
  const ignored: string[] = [];
  let chosen: PushEvent | undefined;
  for (const event of events) {
    const reason = pushMismatch(event, image, policy);
    if (reason) ignored.push(reason);
    else if (chosen && !isUpgrade(policy, chosen, event)) ignored.push(`${describe(event)}: superseded by ${describe(chosen)}`);
    else {
      if (chosen) ignored.push(`${describe(chosen)}: superseded by ${describe(event)}`);
      chosen = event;
    }
  }
  if (chosen && deployed) {
    if (chosen.digest !== undefined && chosen.digest === deployed.digest && chosen.tag === deployed.tag) {
      return { ignored: [...ignored, `${describe(chosen)}: already deployed (${deployed.digest})`] };
    }
    if (!isUpgrade(policy, deployed, chosen)) {
      return { ignored: [...ignored, `${describe(chosen)}: older than the deployed ${deployed.tag ?? deployed.digest}`] };
    }
  }
  return { chosen, ignored };
}
