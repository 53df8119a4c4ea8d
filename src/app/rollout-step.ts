// The rollout's part of the shell: the words a step is told in (trigger
// descriptions, the change-cause), following a rollout inside the deadline,
// and announcing a stored step (Kubernetes Events for every change and verdict,
// one notification per verdict). Announcing is best effort: it never fails or
// repeats a step whose state is stored.
import type { CharmState } from '../charm/state.js';
import type { FetchOutcome } from '../charm/context.js';
import { describeControl, type Trigger } from '../domain/commands.js';
import { TargetError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Notification, NotifyResult } from '../notify/port.js';
import type { EventRecorder } from '../record/events.js';
import { changeCause, type Trigger as EventTrigger } from '../record/trigger.js';
import type { RolloutFollowResult, RolloutObserver } from '../rollout/port.js';
import type { Selection } from './plan.js';
import { isVerdict, stepEvents } from './step-events.js';

/** Where a trigger came from, in an Event's words. */
export function providerOf(trigger: Trigger): string {
  if (trigger.hook === 'config-changed') return 'config';
  if (trigger.control) return 'control';
  if (trigger.hook === 'update-status') return 'rollout';
  return trigger.pushes?.[0]?.provider ?? 'refresh';
}

/** The audit trail's words for a trigger without a command (direct calls). */
export function describeTrigger(trigger: Trigger): string {
  if (trigger.hook === 'config-changed') return 'config';
  if (trigger.control) return `control ${describeControl(trigger.control)}`;
  if (trigger.hook === 'update-status') return 'rollout check';
  return trigger.pushes ? 'push' : 'refresh';
}

/** Why the step would change the template: the change-cause of the rollout it starts. */
export function changeCauseOf(trigger: Trigger, selection: Selection, state: CharmState | undefined, fetched: Record<string, FetchOutcome>, id: string): string | undefined {
  const image = fetched['oci-image'];
  const info = image?.ok ? image.info : undefined;
  const deployed = state?.resources['oci-image'];
  const facts: EventTrigger = { provider: providerOf(trigger), eventId: id, tag: info?.tag, digest: info?.digest, from: deployed?.registryPath, to: info?.registryPath };
  if (trigger.hook === 'config-changed') return changeCause('ConfigApplied', { provider: 'config', eventId: id });
  if (selection.control && 'pin' in selection.control) return changeCause('Pinned', facts);
  return info ? changeCause('ImageUpdated', facts) : undefined;
}

/** The audit trail's reason for a verdict step. */
export function verdictReason(state: CharmState): string | undefined {
  const rollout = state.rollout;
  if (!rollout) return undefined;
  if (rollout.revert && rollout.state === 'progressing') return `rollout failed: ${rollout.reason ?? 'unknown'}; reverting`;
  if (rollout.state === 'failed') return `rollout failed: ${rollout.reason ?? 'unknown'}`;
  return rollout.revert ? `rollout failed: ${rollout.reason ?? 'unknown'}; reverted` : 'rollout complete';
}

/** Follows the rollout; an observer that cannot look (RBAC, a gone Deployment) leaves it to the next step or refresh. */
export async function followRollout(observer: RolloutObserver, since: string, deadline: (() => number) | undefined, logger: Logger): Promise<RolloutFollowResult> {
  try {
    return await observer.follow({ deadline: deadline ?? (() => 60_000), since });
  } catch (error) {
    if (!(error instanceof TargetError)) throw error;
    logger.warn('rollout not observed', { reason: error.message });
    return { state: 'progressing', reason: error.message, outOfTime: false }; // no check loop on a refusal
  }
}

export interface Announcer {
  announce(before: CharmState | undefined, after: CharmState, trigger: EventTrigger, uid: string | undefined, deadline?: () => number): Promise<void>;
}

export interface AnnouncerOptions {
  namespace: string;
  app: string;
  events?: EventRecorder;
  notifier?: { notify(notification: Notification): Promise<NotifyResult[]> };
  logger: Logger;
  now?: () => Date;
}

export function createAnnouncer(options: AnnouncerOptions): Announcer {
  const now = options.now ?? (() => new Date());
  return {
    async announce(before, after, trigger, uid, deadline) {
      const events = stepEvents(before, after, trigger);
      for (const event of events) {
        if (options.events) await options.events.record(event, uid ? { uid } : {}, { deadline });
        options.logger.info('step told', { reason: event.reason, summary: event.summary });
      }
      if (!options.notifier) return;
      const reverted = events.some((other) => other.reason === 'Reverted');
      for (const event of events.filter(isVerdict)) {
        const results = await options.notifier.notify({
          // Stryker disable next-line OptionalChaining: equivalent, stepEvents makes a verdict only when `after.rollout` is set
          id: `${trigger.eventId ?? 'step'}:${event.reason}:${after.rollout?.since ?? ''}`, event: event.reason, namespace: options.namespace, app: options.app,
          summary: `${event.summary ?? event.reason}${reverted ? '; reverted to the last Available image' : ''}`,
          status: after.status, trigger: event.trigger, at: now().toISOString(),
        }).catch((error: unknown) => [{ ok: false, channel: '?', error: String(error), timedOut: false, ms: 0 } as NotifyResult]);
        for (const result of results) if (!result.ok) options.logger.warn('notification not delivered', { channel: result.channel, error: result.error });
      }
    },
  };
}
