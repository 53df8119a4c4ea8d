// Whether a push is for this deployer at all, decided without state (intake decides it before
// queueing; the worker again, for events that reach the queue directly): the registry and
// repository of KFM_IMAGE (the registry only when the payload names one), a tag, inside the policy. Pure.
import type { PushEvent } from '../domain/types.js';
import { normaliseRepository, sameRegistry, type ImageRef } from '../image/reference.js';
import { tagAllowed, type TagPolicy } from './tag-policy.js';

export function describePush(event: PushEvent): string {
  return `${event.repository}:${event.tag ?? event.digest ?? '?'}`;
}

/** Why an event is not for this deployer, or undefined when it is (decided without state: intake uses it too). */
export function pushMismatch(event: PushEvent, image: ImageRef, policy: TagPolicy): string | undefined {
  // Default ports and Docker Hub's aliases name the same registry (`registry.example:443` is `registry.example`).
  if (event.registry !== undefined && !sameRegistry(event.registry, image.registry)) {
    return `${describePush(event)}: registry ${event.registry} is not ${image.registry}`;
  }
  // The same registry from here on: KFM_IMAGE's spelling decides Docker Hub's `library/`.
  if (normaliseRepository(image.registry, event.repository) !== image.repository) {
    return `${describePush(event)}: repository is not ${image.repository}`;
  }
  if (!event.tag) return `${describePush(event)}: pushed by digest, without a tag`;
  if (!tagAllowed(policy, event.tag)) return `${describePush(event)}: tag outside the policy`;
  return undefined;
}
