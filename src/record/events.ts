// Kubernetes Events on the Deployment, where operators look (`kubectl get events`,
// `kubectl describe deployment`): one events.k8s.io/v1 Event per step that changed
// something and per rollout verdict, reported by `kubeflow-metadata-deployer`.
// Each is a new object (a POST; deploy/rbac.yaml grants `create` and nothing else
// on events), never an update of an older one: steps are rare, so the series
// bookkeeping client-go does for chatty controllers buys nothing here.
//
// Recording is best effort, like a log line: a refused or timed-out Event is
// logged and returned as `{ok: false}`, never thrown, so it can never fail or
// repeat a step whose state is already stored. renderEvent is pure; the adapter
// sends it through the Kubernetes target's transport with its retry policy.
import { randomBytes } from 'node:crypto';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import { GiveUp, isRetryableCode, isRetryableStatus, requestTimeout, withRetry, type Failure, type RetryOptions } from '../targets/kubernetes/retry.js';
import { send as realSend, statusMessage } from '../targets/kubernetes/transport.js';
import { describeTrigger, flatten, type Trigger } from './trigger.js';

export const REPORTING_CONTROLLER = 'kubeflow-metadata-deployer';

export const EVENT_REASONS = [
  'ImageUpdated', 'ConfigApplied', 'RolloutComplete', 'RolloutFailed', 'Reverted',
  'Pinned', 'Unpinned', 'Suspended', 'Resumed', 'Quarantined', 'Unquarantined',
] as const;
export type EventReason = (typeof EVENT_REASONS)[number];

/** Warning: something an operator should look at (a bad image, an automatic rollback). */
const WARNINGS: ReadonlySet<EventReason> = new Set(['RolloutFailed', 'Reverted', 'Quarantined']);
/** The `action` (what the deployer did) for each reason; `reason` is why. */
const ACTIONS: Record<EventReason, string> = {
  ImageUpdated: 'Deploy', ConfigApplied: 'Configure', RolloutComplete: 'Verify', RolloutFailed: 'Verify', Reverted: 'Revert',
  Pinned: 'Pin', Unpinned: 'Unpin', Suspended: 'Suspend', Resumed: 'Resume', Quarantined: 'Quarantine', Unquarantined: 'Unquarantine',
};

export interface DeployerEvent {
  reason: EventReason;
  /** What happened, in words ("rollout failed: pod … CrashLoopBackOff"); the trigger follows it in the note. */
  summary?: string;
  trigger?: Trigger;
  /** Default: Warning for RolloutFailed, Reverted, Quarantined; Normal otherwise. */
  type?: 'Normal' | 'Warning';
  /** Default: from the reason (Deploy, Configure, Verify, Revert, Pin, …). */
  action?: string;
}

/** The Deployment the Event is about; with its uid, `kubectl describe deployment` lists the Event too. */
export interface Regarding {
  name: string;
  uid?: string;
  resourceVersion?: string;
}

export interface EventContext {
  namespace: string;
  regarding: Regarding;
  /** Which deployer wrote it (e.g. the function name); at most 128 characters. */
  reportingInstance: string;
  now: Date;
  /** Makes the name unique: `<deployment>.<suffix>`. */
  suffix: string;
}

/** The API's limit on `note`, in bytes. */
const NOTE_MAX_BYTES = 1024;

/** `summary; trigger`, cut to the API's 1 kB at a character boundary. */
export function eventNote(event: Pick<DeployerEvent, 'summary' | 'trigger'>): string {
  const parts = [event.summary ? flatten(event.summary, 512) : '', event.trigger ? describeTrigger(event.trigger) : ''].filter(Boolean);
  const note = parts.join('; ');
  const bytes = Buffer.from(note);
  if (bytes.length <= NOTE_MAX_BYTES) return note;
  // A cut inside a multi-byte character decodes as U+FFFD: drop it. The ellipsis is 3 bytes.
  return `${bytes.subarray(0, NOTE_MAX_BYTES - 3).toString('utf8').replace(/\uFFFD+$/, '')}…`;
}

/** MicroTime, the format `eventTime` requires: RFC 3339 with exactly six fractional digits. */
export const microTime = (at: Date): string => at.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/** The events.k8s.io/v1 Event for `event` (pure). */
export function renderEvent(event: DeployerEvent, context: EventContext): Record<string, unknown> {
  const { namespace, regarding } = context;
  return {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: { name: `${regarding.name}.${context.suffix}`, namespace },
    eventTime: microTime(context.now),
    reportingController: REPORTING_CONTROLLER,
    reportingInstance: flatten(context.reportingInstance, 128),
    action: event.action ?? ACTIONS[event.reason],
    reason: event.reason,
    type: event.type ?? (WARNINGS.has(event.reason) ? 'Warning' : 'Normal'),
    note: eventNote(event),
    regarding: {
      apiVersion: 'apps/v1', kind: 'Deployment', namespace, name: regarding.name,
      ...(regarding.uid ? { uid: regarding.uid } : {}), ...(regarding.resourceVersion ? { resourceVersion: regarding.resourceVersion } : {}),
    },
  };
}

export type RecordOutcome = { ok: true; name: string } | { ok: false; reason: EventReason; error: string };

export interface EventRecorder {
  /**
   * Creates the Event; never throws. `regarding` adds the Deployment's uid when the caller has it;
   * `call.deadline`, the invocation's time left, bounds its retries and timeouts (else the recorder's own).
   */
  record(event: DeployerEvent, regarding?: Omit<Regarding, 'name'>, call?: { deadline?: () => number }): Promise<RecordOutcome>;
}

export interface EventRecorderOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  /** The Deployment's name (KFM_APP). */
  deployment: string;
  reportingInstance: string;
  /** Milliseconds left, for calls that bring no deadline of their own; bounds retries and timeouts. */
  deadline?: () => number;
  /** Default: 3 attempts, 5 s per request. */
  retry?: RetryOptions;
  logger?: Logger;
  send?: typeof realSend;
  now?: () => Date;
}

class StatusError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export function createEventRecorder(options: EventRecorderOptions): EventRecorder {
  const send = options.send ?? realSend;
  const logger = options.logger ?? silentLogger;
  const policy = { attempts: 3, timeoutMs: 5000, ...options.retry, deadline: options.deadline };
  const server = options.kubeConfig.getCurrentCluster()?.server ?? '';
  const path = `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(options.namespace)}/events`;

  const classify = (error: unknown): Failure => {
    if (error instanceof StatusError) {
      return isRetryableStatus(error.status) ? { retry: true, label: String(error.status) } : { retry: false, error };
    }
    const code = (error as { code?: unknown } | undefined)?.code;
    if (isRetryableCode(code)) return { retry: true, label: code === 'ETIMEDOUT' ? 'timeout' : String(code) };
    return { retry: false, error: error instanceof Error ? error : new Error(String(error)) };
  };

  return {
    async record(event, regarding = {}, call = {}) {
      const bounded = { ...policy, deadline: call.deadline ?? policy.deadline };
      const suffix = `${Date.now().toString(16)}${randomBytes(3).toString('hex')}`;
      const body = renderEvent(event, {
        namespace: options.namespace, regarding: { ...regarding, name: options.deployment },
        reportingInstance: options.reportingInstance, now: (options.now ?? (() => new Date()))(), suffix,
      });
      const name = (body.metadata as { name: string }).name;
      try {
        if (!server) throw new Error('kubeconfig has no current cluster');
        await withRetry(async () => {
          const response = await send(options.kubeConfig, server, { method: 'POST', path, body: JSON.stringify(body), contentType: 'application/json' },
            () => requestTimeout(bounded));
          if (response.status !== 201 && response.status !== 200) throw new StatusError(response.status, statusMessage(response.status, response.text));
        }, classify, bounded);
        return { ok: true, name };
      } catch (error) {
        const text = error instanceof GiveUp ? `gave up: ${error.message}` : error instanceof Error ? error.message : String(error);
        logger.warn('kubernetes event not recorded', { reason: event.reason, event: name, error: text });
        return { ok: false, reason: event.reason, error: text };
      }
    },
  };
}

