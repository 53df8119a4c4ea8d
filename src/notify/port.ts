// The Notifier port: one message per rollout verdict, to people outside the
// cluster (a chat channel, an incident tool). Called once per verdict after the
// state is stored, never from inside a retry loop, so a receiver sees each
// verdict once per delivery of the step; `id` lets it drop a redelivered one.
// A notification never fails the step: adapters answer with a NotifyResult
// (logged by them), they do not throw.
import { describeTrigger, type Trigger } from '../record/trigger.js';

export interface Notification {
  /** Stable for one verdict of one step (e.g. `<event id>:RolloutFailed`): the receiver's deduplication key. */
  id: string;
  /** What happened: RolloutComplete, RolloutFailed, Reverted, Quarantined, … (the Event reasons). */
  event: string;
  namespace: string;
  app: string;
  /** One line a person reads: "rollout failed: pod kubeflow-metadata-… CrashLoopBackOff". */
  summary: string;
  /** The status after the step, as /status shows it. */
  status?: { state: string; message: string };
  trigger?: Trigger;
  /** ISO 8601. */
  at: string;
}

export type NotifyResult =
  | { ok: true; channel: string; status: number; ms: number }
  | { ok: false; channel: string; error: string; status?: number; timedOut: boolean; ms: number };

export interface Notifier {
  /** Names the adapter in logs and results (`slack`, `webhook`), never its URL. */
  readonly channel: string;
  notify(notification: Notification): Promise<NotifyResult>;
}

/** `[namespace/app] event: summary — trigger`: the Slack text, and `text` in the webhook body. */
export function notificationText(n: Notification): string {
  const trigger = n.trigger ? describeTrigger(n.trigger) : '';
  return `[${n.namespace}/${n.app}] ${n.event}: ${n.summary}${trigger ? ` — ${trigger}` : ''}`;
}

/** Every notifier at once, each bounded by its own timeout; one result per notifier, in order. */
export function fanOut(notifiers: readonly Notifier[]): { notify(n: Notification): Promise<NotifyResult[]> } {
  return { notify: (n) => Promise.all(notifiers.map((notifier) => notifier.notify(n))) };
}
