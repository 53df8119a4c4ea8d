// Turns what intake (or EventBridge, through the queue) delivers into one
// command with its identity, pure. What can be decided without state is
// decided here and never queued: pulls and blob pushes (the parsers drop them),
// other registries and repositories, pushes by digest only, tags outside the policy.
import { createHash, createHmac, randomUUID } from 'node:crypto';
import type { Command, ControlRequest } from '../domain/commands.js';
import type { ParsedPushes, PushEvent } from '../domain/types.js';
import type { ImageRef } from '../image/reference.js';
import type { TagPolicy } from '../policy/tag-policy.js';
import { pushMismatch } from '../policy/push-filter.js';
import type { Trigger } from '../domain/commands.js';

export interface IntakeOptions {
  image: ImageRef;
  tagPolicy: TagPolicy;
  now: Date;
}

export type Accepted = { command: Command; ignored: string[] } | { command?: undefined; ignored: string[] };

/** An id SQS takes as a deduplication id (≤ 128 characters of [A-Za-z0-9-]), from the event's identity. */
function identity(kind: string, parts: unknown, key?: string): string {
  const text = JSON.stringify(parts);
  // Keyed for config bodies: their identity must not be a plain hash of a password.
  const digest = key ? createHmac('sha256', key).update(text).digest('hex') : createHash('sha256').update(text).digest('hex');
  return `${kind}-${digest.slice(0, 40)}`;
}

/** The pushes intake acts on (newest-first choice is the worker's: it needs the state). */
export function pushCommand(parsed: ParsedPushes, options: IntakeOptions): Accepted {
  const ignored = [...parsed.ignored];
  const pushes: PushEvent[] = [];
  for (const event of parsed.events) {
    const reason = pushMismatch(event, options.image, options.tagPolicy);
    if (reason) ignored.push(reason);
    else pushes.push(event);
  }
  if (pushes.length === 0) return { ignored: ignored.length ? ignored : ['no push in the payload'] };
  // The event's identity: provider, repository, tag and digest (a registry redelivers the same push as is).
  const id = identity('push', pushes.map((push) => [push.provider, push.registry ?? '', push.repository, push.tag ?? '', push.digest ?? '']));
  return { command: { kind: 'push', id, receivedAt: options.now.toISOString(), pushes }, ignored };
}

export function configCommand(trigger: Extract<Trigger, { hook: 'config-changed' }>, body: unknown, key: string, now: Date): Command {
  return { kind: 'config', id: identity('config', body, key), receivedAt: now.toISOString(), config: trigger.config, mysql: trigger.mysql };
}

/** A schedule tick: its identity is EventBridge's event id (or the minute, when invoked by hand). */
export function refreshCommand(eventId: string | undefined, now: Date): Command {
  return { kind: 'refresh', id: identity('refresh', eventId ?? now.toISOString().slice(0, 16)), receivedAt: now.toISOString() };
}

/** A control request: each one acts (the same request twice, say suspend after a resume, is two decisions). */
export function controlCommand(control: ControlRequest, now: Date): Command {
  return { kind: 'control', id: `control-${randomUUID()}`, receivedAt: now.toISOString(), control };
}

/** A rollout check, unique per look (a FIFO queue drops a repeated deduplication id). */
export function checkCommand(rollout: string, now: Date): Command {
  return { kind: 'check', id: `check-${randomUUID()}`, receivedAt: now.toISOString(), rollout };
}

/** A pin deploys, unpin and resume give the policy back (a refresh); suspend and unquarantine change only the state. */
function controlTrigger(control: ControlRequest): Trigger {
  return 'pin' in control || 'unpin' in control || 'resume' in control ? { hook: 'upgrade-charm', control } : { hook: 'update-status', control };
}

/** The step's trigger for a command. */
export function triggerOf(command: Command): Trigger {
  switch (command.kind) {
    case 'push':
      return { hook: 'upgrade-charm', pushes: command.pushes };
    case 'config':
      return { hook: 'config-changed', config: command.config, mysql: command.mysql };
    case 'refresh':
      return { hook: 'upgrade-charm' };
    case 'control':
      return controlTrigger(command.control);
    case 'check':
      return { hook: 'update-status', check: command.rollout };
  }
}
