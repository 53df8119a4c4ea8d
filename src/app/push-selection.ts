// Which of a webhook's pushes the deployer acts on, pure: the registry and
// repository of KFM_IMAGE, a tag inside the policy, and newer than what runs.
import type { PushEvent } from '../domain/types.js';
import type { ImageRef } from '../image/reference.js';
import { isUpgrade, type TagPolicy } from '../policy/tag-policy.js';
import { describePush as describe, pushMismatch } from '../policy/push-filter.js';
import type { ResourceInfo } from '../charm/state.js';

export interface PushSelection {
  chosen?: PushEvent;
  ignored: string[];
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
