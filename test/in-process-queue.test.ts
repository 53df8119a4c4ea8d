// The in-process queue (src/queue/in-process.ts): SQS FIFO's semantics in one
// process, for `npm start`, `npm run serve` and the tests. Per-group order, the
// deduplication window, retries with backoff, dead letters after
// maxReceiveCount receives, and a thrown handler counted as a failure.
import { describe, expect, it } from '@jest/globals';
import { createInProcessQueue, defaults, type InProcessQueueOptions } from '../src/queue/in-process.js';
import { MAX_RECEIVE_COUNT, type BatchResult, type QueueBatch, type QueueRecord } from '../src/queue/port.js';
import { watchSecrets } from './support/leak-guard.js';

// No secret goes through these messages; the guard still watches one, so a leak of it would fail.
const NEVER_SHOWN = 'in-process-queue-never-shown-secret';
watchSecrets(NEVER_SHOWN);

interface Delivery {
  body: string;
  receive: string;
  group?: string;
  deduplicationId?: string;
}

/** A queue whose worker records every delivery and answers with `answer` (default: success). */
function recordingQueue(answer: (record: QueueRecord, deliveries: Delivery[]) => Promise<'ok' | 'fail' | 'throw'> = async () => 'ok', options: Partial<InProcessQueueOptions> = {}) {
  const deliveries: Delivery[] = [];
  const deadLetters: QueueRecord[] = [];
  const queue = createInProcessQueue({
    retryDelayMs: () => 1,
    ...options,
    async deliver(batch: QueueBatch): Promise<BatchResult> {
      expect(batch.Records).toHaveLength(1); // one at a time, as the worker's batch size locally
      const record = batch.Records[0]!;
      deliveries.push({ body: record.body, receive: record.attributes.ApproximateReceiveCount, group: record.attributes.MessageGroupId, deduplicationId: record.attributes.MessageDeduplicationId });
      const verdict = await answer(record, deliveries);
      if (verdict === 'throw') throw new Error('the handler crashed');
      return { batchItemFailures: verdict === 'fail' ? [{ itemIdentifier: record.messageId }] : [] };
    },
    async deadLetter(record) {
      deadLetters.push(record);
    },
  });
  const send = (groupId: string, body: string, deduplicationId = body) => queue.send({ groupId, deduplicationId, body });
  return { queue, send, deliveries, deadLetters, bodies: () => deliveries.map((delivery) => delivery.body) };
}

const n = (body: string) => Number(body.slice(1));

function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => { open = resolve; });
  return { open, opened };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 5_000;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe('per-group FIFO order', () => {
  it('a slow first message of a group holds the second; another group proceeds meanwhile', async () => {
    const slow = gate();
    const finished: string[] = [];
    const { send, queue, bodies } = recordingQueue(async (record) => {
      if (record.body === 'a1') await slow.opened;
      finished.push(record.body);
      return 'ok';
    });
    await send('kubeflow/a', 'a1');
    await send('kubeflow/a', 'a2');
    await send('kubeflow/b', 'b1');
    await until(() => finished.includes('b1'), 'group b to proceed');
    expect(bodies()).toEqual(['a1', 'b1']); // a2 waits behind a1, b1 did not
    slow.open();
    await queue.drain();
    expect(finished).toEqual(['b1', 'a1', 'a2']);
    expect(bodies()).toEqual(['a1', 'b1', 'a2']);
  });

  it('keeps sending order within a group, and hands the group and deduplication id to the worker', async () => {
    const { send, queue, deliveries } = recordingQueue(async () => {
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 3));
      return 'ok';
    });
    const sent = Array.from({ length: 20 }, (_, n) => `m${n}`);
    for (const body of sent) await send(n(body) % 2 === 0 ? 'even' : 'odd', body, `dedup-${body}`);
    await queue.drain();
    const of = (group: string) => deliveries.filter((delivery) => delivery.group === group).map((delivery) => delivery.body);
    expect(of('even')).toEqual(sent.filter((body) => n(body) % 2 === 0));
    expect(of('odd')).toEqual(sent.filter((body) => n(body) % 2 === 1));
    expect(deliveries.every((delivery) => delivery.deduplicationId === `dedup-${delivery.body}` && delivery.receive === '1')).toBe(true);
  });

  it('a message waiting for its retry holds the rest of its group', async () => {
    const { send, queue, bodies } = recordingQueue(async (record, deliveries) =>
      (record.body === 'first' && deliveries.filter((delivery) => delivery.body === 'first').length < 3 ? 'fail' : 'ok'));
    await send('g', 'first');
    await send('g', 'second');
    await queue.drain();
    expect(bodies()).toEqual(['first', 'first', 'first', 'second']);
  });
});

describe('the deduplication window', () => {
  it('drops the same id within 5 minutes and takes it again once the window has passed', async () => {
    let clock = 1_000_000;
    const { send, queue, bodies } = recordingQueue(async () => 'ok', { now: () => clock });
    await send('g', 'push', 'push-1');
    await queue.drain();
    clock += 60_000;
    await send('g', 'push again', 'push-1'); // a redelivery: answered success, dropped
    clock += defaults.deduplicationWindowMs - 60_000 - 1;
    await send('g', 'push once more', 'push-1'); // 1 ms inside the window
    await send('g', 'another push', 'push-2');
    await queue.drain();
    expect(bodies()).toEqual(['push', 'another push']);
    clock += 1; // exactly 5 minutes after the first send
    await send('g', 'push after the window', 'push-1');
    await queue.drain();
    expect(bodies()).toEqual(['push', 'another push', 'push after the window']);
    expect(defaults.deduplicationWindowMs).toBe(5 * 60_000);
  });

  it('deduplicates across groups too (the id is the event, not the group)', async () => {
    const { send, queue, bodies } = recordingQueue();
    await send('a', 'one', 'same-id');
    await send('b', 'two', 'same-id');
    await queue.drain();
    expect(bodies()).toEqual(['one']);
  });
});

describe('retries with backoff', () => {
  it('delivers a failed message again, counting ApproximateReceiveCount up, until it succeeds', async () => {
    const delays: number[] = [];
    const { send, queue, deliveries, deadLetters } = recordingQueue(async (_record, seen) => (seen.length < 3 ? 'fail' : 'ok'), {
      retryDelayMs: (receives) => { delays.push(receives); return 1; },
    });
    await send('g', 'flaky');
    await queue.drain();
    expect(deliveries.map((delivery) => delivery.receive)).toEqual(['1', '2', '3']);
    expect(delays).toEqual([1, 2]); // asked after the first and the second failed receive
    expect(deadLetters).toEqual([]);
  });

  it('the default backoff doubles from 1 s (a cluster back within ~15 s still gets the event) and stops growing', () => {
    expect([1, 2, 3, 4].map(defaults.retryDelayMs)).toEqual([1000, 2000, 4000, 8000]);
    const waits = Array.from({ length: 40 }, (_, i) => defaults.retryDelayMs(i + 1));
    expect(waits.every((wait, i) => i === 0 || wait >= waits[i - 1]!)).toBe(true);
    expect(Math.max(...waits)).toBeLessThanOrEqual(30_000);
    expect(waits.slice(0, MAX_RECEIVE_COUNT - 1).reduce((sum, wait) => sum + wait, 0)).toBeGreaterThanOrEqual(15_000);
  });

  it('waits the backoff before the next receive', async () => {
    const at: number[] = [];
    const { send, queue } = recordingQueue(async () => { at.push(Date.now()); return at.length < 2 ? 'fail' : 'ok'; }, { retryDelayMs: () => 60 });
    await send('g', 'slow retry');
    await queue.drain();
    expect(at).toHaveLength(2);
    expect(at[1]! - at[0]!).toBeGreaterThanOrEqual(55);
  });

  it('a failure reported for another message does not fail this one', async () => {
    const receives: string[] = [];
    const deadLetters: QueueRecord[] = [];
    const queue = createInProcessQueue({
      retryDelayMs: () => 1,
      async deliver(batch) {
        receives.push(batch.Records[0]!.attributes.ApproximateReceiveCount);
        return { batchItemFailures: [{ itemIdentifier: 'some-other-message' }] };
      },
      deadLetter: async (record) => { deadLetters.push(record); },
    });
    await queue.send({ groupId: 'g', deduplicationId: 'x', body: 'x' });
    await queue.drain();
    expect(receives).toEqual(['1']);
    expect(deadLetters).toEqual([]);
  });
});

describe('dead letters', () => {
  it(`after maxReceiveCount (${MAX_RECEIVE_COUNT}) failed receives the message goes to the dead letters, once, and the group moves on`, async () => {
    const { send, queue, deliveries, deadLetters } = recordingQueue(async (record) => (record.body === 'poison' ? 'fail' : 'ok'));
    await send('g', 'poison');
    await send('g', 'next');
    await queue.drain();
    expect(deliveries.map((delivery) => `${delivery.body}#${delivery.receive}`)).toEqual(['poison#1', 'poison#2', 'poison#3', 'poison#4', 'poison#5', 'next#1']);
    expect(deadLetters).toHaveLength(1);
    expect(deadLetters[0]).toMatchObject({ body: 'poison', attributes: { MessageGroupId: 'g', MessageDeduplicationId: 'poison' } });
    expect(MAX_RECEIVE_COUNT).toBe(5);
  });

  it('honours another maxReceiveCount', async () => {
    const { send, queue, deliveries, deadLetters } = recordingQueue(async () => 'fail', { maxReceiveCount: 2 });
    await send('g', 'twice');
    await queue.drain();
    expect(deliveries.map((delivery) => delivery.receive)).toEqual(['1', '2']);
    expect(deadLetters.map((record) => record.body)).toEqual(['twice']);
  });

  it('a thrown handler counts as a failed receive, and ends in the dead letters too', async () => {
    const { send, queue, deliveries, deadLetters } = recordingQueue(async () => 'throw', { maxReceiveCount: 3 });
    await send('g', 'crashes');
    await queue.drain();
    expect(deliveries.map((delivery) => delivery.receive)).toEqual(['1', '2', '3']);
    expect(deadLetters.map((record) => record.body)).toEqual(['crashes']);
  });

  it('a dead-letter store that fails does not wedge the group', async () => {
    const delivered: string[] = [];
    const queue = createInProcessQueue({
      maxReceiveCount: 1,
      retryDelayMs: () => 1,
      async deliver(batch) {
        const record = batch.Records[0]!;
        delivered.push(record.body);
        return { batchItemFailures: record.body === 'bad' ? [{ itemIdentifier: record.messageId }] : [] };
      },
      deadLetter: async () => { throw new Error('disk full'); },
    });
    await queue.send({ groupId: 'g', deduplicationId: 'bad', body: 'bad' });
    await queue.send({ groupId: 'g', deduplicationId: 'good', body: 'good' });
    await queue.drain();
    expect(delivered).toEqual(['bad', 'good']);
  });
});
