// The in-process adapter of the queue port, for the embedded default (`npm start`,
// `npm run serve`, `npm run invoke`) and the tests: SQS FIFO's semantics in one
// process. Messages of one group are delivered one at a time, in order, and the
// group waits while one is in flight or waiting for a retry; a deduplication id
// seen within the window is dropped; a failed delivery is retried with backoff,
// and after MAX_RECEIVE_COUNT receives the message goes to the dead letters.
// Not modelled: durability across restarts (a stopped process loses what it
// holds: run the SQS adapter for that), visibility timeouts, batches of several.
import { randomUUID } from 'node:crypto';
import { MAX_RECEIVE_COUNT, type BatchResult, type CommandQueue, type QueueBatch, type QueueMessage, type QueueRecord } from './port.js';

export interface InProcessQueueOptions {
  /** The worker: gets each message as the SQS event source would hand it. */
  deliver: (batch: QueueBatch) => Promise<BatchResult>;
  /** Where a message goes after its last failed receive. */
  deadLetter: (record: QueueRecord) => Promise<void>;
  maxReceiveCount?: number;
  deduplicationWindowMs?: number;
  /** Wait before the next receive of a failed message (SQS: the visibility timeout). */
  retryDelayMs?: (receiveCount: number) => number;
  now?: () => number;
}

export const defaults = {
  maxReceiveCount: MAX_RECEIVE_COUNT,
  deduplicationWindowMs: 5 * 60_000,
  // Like a visibility timeout that grows: 1, 2, 4, 8 s, so a cluster that is back within ~15 s gets the event.
  retryDelayMs: (receiveCount: number) => Math.min(30_000, 1_000 * 2 ** (receiveCount - 1)),
  now: () => Date.now(),
};

interface Held {
  record: QueueRecord;
  receives: number;
}

export function createInProcessQueue(options: InProcessQueueOptions): CommandQueue & { drain(): Promise<void> } {
  const settings = { ...defaults, ...options };
  const groups = new Map<string, Held[]>();
  const running = new Map<string, Promise<void>>();
  const seen = new Map<string, number>();

  function forgetExpired(now: number): void {
    for (const [id, at] of seen) if (now - at >= settings.deduplicationWindowMs) seen.delete(id);
  }

  async function deliverOne(held: Held): Promise<boolean> {
    held.receives += 1;
    const record = { ...held.record, attributes: { ...held.record.attributes, ApproximateReceiveCount: String(held.receives) } };
    try {
      const result = await settings.deliver({ Records: [record] });
      return !result.batchItemFailures.some((failure) => failure.itemIdentifier === record.messageId);
    } catch {
      return false; // a thrown handler fails the whole batch, as on Lambda
    }
  }

  /** Works through one group until it is empty: one message at a time, retries before the next. */
  async function runGroup(groupId: string): Promise<void> {
    const queue = groups.get(groupId) ?? [];
    while (queue.length > 0) {
      const held = queue[0] as Held;
      const delivered = await deliverOne(held);
      if (!delivered && held.receives < settings.maxReceiveCount) {
        await new Promise((resolve) => setTimeout(resolve, settings.retryDelayMs(held.receives)));
        continue;
      }
      if (!delivered) await settings.deadLetter(held.record).catch(() => undefined);
      queue.shift();
    }
    groups.delete(groupId);
    running.delete(groupId);
  }

  return {
    description: 'in-process',
    async send(message: QueueMessage): Promise<void> {
      const now = settings.now();
      forgetExpired(now);
      if (seen.has(message.deduplicationId)) return; // SQS answers success and drops it
      seen.set(message.deduplicationId, now);
      const record: QueueRecord = {
        messageId: randomUUID(),
        body: message.body,
        attributes: { ApproximateReceiveCount: '0', MessageGroupId: message.groupId, MessageDeduplicationId: message.deduplicationId, SentTimestamp: String(now) },
      };
      const queue = groups.get(message.groupId) ?? [];
      queue.push({ record, receives: 0 });
      groups.set(message.groupId, queue);
      if (!running.has(message.groupId)) running.set(message.groupId, runGroup(message.groupId));
    },
    /** Resolves once every group is empty (tests, `npm start`). */
    async drain(): Promise<void> {
      while (running.size > 0) await Promise.all([...running.values()]);
    },
  };
}
