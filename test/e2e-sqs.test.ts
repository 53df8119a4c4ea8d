// The AWS path of the queue against a real SQS API: moto in server mode (pinned in
// scripts/test-peers/versions.env), a FIFO queue and its FIFO dead-letter queue set
// up as serverless.yml sets them up (content-based deduplication on, explicit ids
// from intake, RedrivePolicy maxReceiveCount = MAX_RECEIVE_COUNT), our SQS adapter
// sending, and test/support/sqs-event-source.ts standing in for Lambda's event
// source mapping: stand-in handlers first, then the real intake and worker (handlers/).
//
// What is SQS's (moto's) and what is ours: order within a group, the deduplication
// window and holding a group while its messages are in flight are the queue's. The
// tests below pin down what moto really does, so a change of moto (or a divergence
// from AWS) shows. Nothing in the deployer's safety rests on them: a step claims the
// state before it writes (DESIGN §3), and duplicates are recognised by event id.
import { DeleteMessageCommand, ReceiveMessageCommand, SQSClient, type Message } from '@aws-sdk/client-sqs';
import type { Context, SQSRecord } from 'aws-lambda';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { MAX_RECEIVE_COUNT, type BatchResult, type QueueBatch } from '../src/queue/port.js';
import { createSqsQueue } from '../src/queue/sqs.js';
import { startMoto, type Moto } from './support/moto.js';
import { watchSecrets } from './support/leak-guard.js';
import { createFifoQueues, startSqsEventSource, type SqsEventSource } from './support/sqs-event-source.js';

const VISIBILITY_TIMEOUT_S = 1; // short, so a failed record comes back within the test
let moto: Moto;
let client: SQSClient;
const sources: SqsEventSource[] = [];

beforeAll(async () => {
  moto = await startMoto();
  client = new SQSClient(moto.clientConfig);
}, 30_000);
afterAll(async () => {
  await Promise.all(sources.splice(0).map((source) => source.stop()));
  client?.destroy();
  await moto?.stop();
});
afterEach(async () => {
  await Promise.all(sources.splice(0).map((source) => source.stop()));
});

let queues = 0;
/** A fresh FIFO queue and DLQ per test, and our adapter sending to it. */
async function createQueues() {
  const urls = await createFifoQueues(client, `kfm-e2e-${(queues += 1)}`, VISIBILITY_TIMEOUT_S);
  const queue = createSqsQueue({ client, queueUrl: urls.queueUrl });
  const send = (groupId: string, deduplicationId: string, body = deduplicationId) => queue.send({ groupId, deduplicationId, body });
  return { ...urls, send };
}

async function eventSource(queueUrl: string, handler: (batch: QueueBatch) => Promise<BatchResult>, batchSize = 10) {
  const source = await startSqsEventSource({ client, queueUrl, handler, batchSize });
  sources.push(source);
  return source;
}

const receive = async (queueUrl: string, max: number): Promise<Message[]> =>
  (await client.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: max, WaitTimeSeconds: 0, MessageSystemAttributeNames: ['All'] }))).Messages ?? [];
const bodies = (messages: Array<Message | SQSRecord>) => messages.map((m) => ('Body' in m ? m.Body : (m as SQSRecord).body));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const group = (records: SQSRecord[], id: string) => records.filter((r) => r.attributes.MessageGroupId === id).map((r) => r.body);

/**
 * A FIFO-correct stand-in worker (what Powertools' SqsFifoPartialProcessor does): records in order;
 * once a record of a group fails, every later record of that group in the batch is reported failed
 * unprocessed, so nothing of that group is applied out of order. Other groups carry on.
 */
function fifoHandler(apply: (record: SQSRecord) => Promise<void>) {
  return async (batch: QueueBatch): Promise<BatchResult> => {
    const stopped = new Set<string>();
    const batchItemFailures: BatchResult['batchItemFailures'] = [];
    for (const record of batch.Records as SQSRecord[]) {
      const groupId = record.attributes.MessageGroupId!;
      if (!stopped.has(groupId)) {
        try {
          await apply(record);
          continue;
        } catch {
          stopped.add(groupId);
        }
      }
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
    return { batchItemFailures };
  };
}

it('delivers each group in the order sent, every message once, across several batches', async () => {
  const { queueUrl, send } = await createQueues();
  for (let i = 1; i <= 6; i++) {
    await send('kubeflow/app-a', `a${i}`);
    if (i % 2 === 0) await send('kubeflow/app-b', `b${i / 2}`);
  }
  const applied: SQSRecord[] = [];
  const source = await eventSource(queueUrl, fifoHandler(async (record) => void applied.push(record)), 4);
  await source.waitFor(() => applied.length === 9, 15_000, 'nine records');
  expect(group(applied, 'kubeflow/app-a')).toEqual(['a1', 'a2', 'a3', 'a4', 'a5', 'a6']);
  expect(group(applied, 'kubeflow/app-b')).toEqual(['b1', 'b2', 'b3']);
  expect(source.deliveries.length).toBeGreaterThanOrEqual(3); // batchSize 4: the order held across batches
  expect(applied.every((r) => r.attributes.ApproximateReceiveCount === '1')).toBe(true);
  // The record shape the worker reads: the port's QueueRecord fields, as Lambda names them.
  expect(applied[0]!.attributes).toMatchObject({ MessageGroupId: 'kubeflow/app-a', MessageDeduplicationId: 'a1', SentTimestamp: expect.stringMatching(/^\d{13}$/) });
}, 30_000);

it('drops a second send with the same deduplication id within the window; the explicit id, not the body, decides', async () => {
  const { queueUrl, send } = await createQueues();
  await send('kubeflow/app', 'event-1', 'first');
  await send('kubeflow/app', 'event-1', 'second, same event id'); // accepted (no error), not delivered
  await send('kubeflow/app', 'event-2', 'first'); // the same body under another id is another event
  const applied: SQSRecord[] = [];
  const source = await eventSource(queueUrl, fifoHandler(async (record) => void applied.push(record)));
  await source.waitFor(() => applied.length >= 2, 10_000, 'two records');
  await sleep(1500); // long enough for a third delivery to show
  expect(applied.map((r) => [r.attributes.MessageDeduplicationId, r.body])).toEqual([['event-1', 'first'], ['event-2', 'first']]);
}, 30_000);

it('moto: a message is deduplicated only while it is still in the queue (AWS keeps the id for 5 minutes)', async () => {
  // moto compares a new message with the messages it still holds, so once the first is deleted the
  // same id is delivered again. On AWS it would be dropped for 5 minutes. The worker's own duplicate
  // detection (the event id in the state) is what makes a redelivery harmless, on both.
  const { queueUrl, send } = await createQueues();
  await send('kubeflow/app', 'event-1', 'first');
  const [first] = await receive(queueUrl, 10);
  await client.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: first!.ReceiptHandle }));
  await send('kubeflow/app', 'event-1', 'again');
  expect(bodies(await receive(queueUrl, 10))).toEqual(['again']);
});

it('moto holds a group while a message of it is in flight, and lets the other groups through', async () => {
  const { queueUrl, send } = await createQueues();
  for (const id of ['a1', 'a2', 'a3']) await send('g/a', id);
  await send('g/b', 'b1');
  expect(bodies(await receive(queueUrl, 1))).toEqual(['a1']); // a1 in flight
  expect(bodies(await receive(queueUrl, 10))).toEqual(['b1']); // not a2: group a is held
  expect(await receive(queueUrl, 10)).toEqual([]);
  await sleep(VISIBILITY_TIMEOUT_S * 1000 + 300);
  // a1 was not deleted: it comes back first, with its receive count, before a2; b1 too (not deleted either).
  const again = await receive(queueUrl, 10);
  expect(again.map((m) => [m.Body, m.Attributes?.ApproximateReceiveCount])).toEqual([['a1', '2'], ['a2', '1'], ['a3', '1'], ['b1', '2']]);
  // One receive may return several messages of one group, in order: the consumer applies them in turn.
});

it('partial batch failure: the others are deleted, the failed record comes back, and nothing later of its group overtakes it', async () => {
  // One failed record per group: with two or more in flight at once moto reorders them (next test).
  const { queueUrl, send } = await createQueues();
  for (const id of ['a1', 'a2']) await send('g/a', id);
  for (const id of ['b1', 'b2']) await send('g/b', id);
  let failA2 = true;
  const applied: string[] = [];
  const source = await eventSource(queueUrl, fifoHandler(async (record) => {
    if (record.body === 'a2' && failA2) {
      failA2 = false;
      throw new Error('transient');
    }
    applied.push(record.body);
  }));
  await source.waitFor(() => source.deliveries.length >= 1, 10_000, 'the first batch');
  const [first] = source.deliveries;
  expect(bodies(first!.batch.Records)).toEqual(['a1', 'a2', 'b1', 'b2']);
  const idOf = (body: string) => first!.batch.Records.find((r) => r.body === body)!.messageId;
  expect(first!.deleted).toEqual(['a1', 'b1', 'b2'].map(idOf));
  expect(first!.failed).toEqual([idOf('a2')]);
  // Sent while a2 waits out its visibility timeout: b3 goes through at once, a3 waits its turn.
  await send('g/a', 'a3');
  await send('g/b', 'b3');
  await source.waitFor(() => applied.includes('a3'), 15_000, 'a3');
  expect(applied.filter((b) => b.startsWith('a'))).toEqual(['a1', 'a2', 'a3']);
  expect(applied.indexOf('b3')).toBeLessThan(applied.indexOf('a2')); // the held group did not hold the others
  const a2 = source.records().filter((r) => r.body === 'a2').map((r) => r.attributes.ApproximateReceiveCount);
  expect(a2).toEqual(['1', '2']);
}, 30_000);

it('moto (unlike AWS): when several in-flight messages of a group time out, a later one is redelivered first', async () => {
  // moto 5.2.5's ReceiveMessage frees a group only when none of its messages is still marked in
  // flight, and it unmarks them one by one as it walks the queue: a1 (timed out, but a2 still
  // marked) is skipped, a2 is unmarked and delivered, a3 follows; a1 now waits behind a2 and a3.
  // AWS delivers a1, a2, a3 in order. So on moto a FIFO worker that fails the rest of a group after
  // a failure (as it must) gets the retried records out of order. Nothing may rest on the queue's
  // order: the claim on the state and the policy's order make an older command a no-op.
  const { queueUrl, send } = await createQueues();
  for (const id of ['a1', 'a2', 'a3']) await send('g/a', id);
  expect(bodies(await receive(queueUrl, 2))).toEqual(['a1', 'a2']); // both in flight, neither deleted
  await sleep(VISIBILITY_TIMEOUT_S * 1000 + 300);
  const again = await receive(queueUrl, 10);
  expect(again.map((m) => [m.Body, m.Attributes?.ApproximateReceiveCount])).toEqual([['a2', '2'], ['a3', '1']]);
  expect(await receive(queueUrl, 10)).toEqual([]); // a1 is held behind them
});

it('the queue does not protect the order from a handler that fails one record and applies the next of its group', async () => {
  // SQS deletes what the handler does not report: reporting only a2 lets a3 be applied before a2 is
  // retried. This is why the worker must fail the rest of a group after a failure (fifoHandler above).
  const { queueUrl, send } = await createQueues();
  for (const id of ['a1', 'a2', 'a3']) await send('g/a', id);
  let failA2 = true;
  const applied: string[] = [];
  const source = await eventSource(queueUrl, async (batch) => {
    const failures: BatchResult['batchItemFailures'] = [];
    for (const record of batch.Records) {
      if (record.body === 'a2' && failA2) {
        failA2 = false;
        failures.push({ itemIdentifier: record.messageId });
      } else applied.push(record.body);
    }
    return { batchItemFailures: failures };
  });
  await source.waitFor(() => applied.includes('a2'), 15_000, 'a2 retried');
  expect(applied).toEqual(['a1', 'a3', 'a2']);
}, 30_000);

it(`a record that fails ${MAX_RECEIVE_COUNT} receives goes to the dead-letter queue, and its group carries on`, async () => {
  const { queueUrl, dlqUrl, send } = await createQueues();
  await send('g/a', 'poison');
  await send('g/a', 'a1');
  const applied: SQSRecord[] = [];
  // Batch size 1: a1 is never received while the poison message holds the group.
  const source = await eventSource(queueUrl, fifoHandler(async (record) => {
    if (record.body === 'poison') throw new Error('always fails');
    applied.push(record);
  }), 1);
  await source.waitFor(() => applied.length === 1, 25_000, 'a1 after the poison message');
  const poison = source.records().filter((r) => r.body === 'poison').map((r) => Number(r.attributes.ApproximateReceiveCount));
  expect(poison).toEqual([1, 2, 3, 4, 5]);
  expect(applied[0]!.attributes.ApproximateReceiveCount).toBe('1');
  const dead = await receive(dlqUrl, 10);
  expect(dead.map((m) => [m.Body, m.Attributes?.MessageGroupId])).toEqual([['poison', 'g/a']]);
}, 40_000);

it('a handler that throws fails the whole batch, as on Lambda: nothing is deleted, everything comes back', async () => {
  const { queueUrl, send } = await createQueues();
  await send('g/a', 'a1');
  await send('g/b', 'b1');
  let thrown = false;
  const source = await eventSource(queueUrl, async () => {
    if (!thrown) {
      thrown = true;
      throw new Error('crashed');
    }
    return { batchItemFailures: [] };
  });
  await source.waitFor(() => source.deliveries.length >= 2, 10_000, 'the batch again');
  expect(source.deliveries[0]).toMatchObject({ deleted: [], error: 'the handler threw: crashed' });
  expect(bodies(source.deliveries[1]!.batch.Records)).toEqual(['a1', 'b1']);
  expect(source.deliveries[1]!.batch.Records.map((r) => r.attributes.ApproximateReceiveCount)).toEqual(['2', '2']);
}, 30_000);

it('startMoto fails loudly, naming the install script, when the venv is missing (never a skip)', async () => {
  const saved = process.env.KFM_PEERS_CACHE;
  process.env.KFM_PEERS_CACHE = '/nonexistent/kfm-peers';
  try {
    await expect(startMoto()).rejects.toThrow(/\/nonexistent\/kfm-peers\/moto-[\d.]+\/venv\/bin\/moto_server is missing: run `bash scripts\/install-test-peers.sh`/);
  } finally {
    if (saved === undefined) delete process.env.KFM_PEERS_CACHE;
    else process.env.KFM_PEERS_CACHE = saved;
  }
});

describe('the real intake and worker (handlers/), through SQS and the event source', () => {
  const event = async (name: string) => JSON.parse(await readFile(join(import.meta.dirname, '..', 'events', name), 'utf8'));
  /** What the sample events carry: each route its own power's credential (DESIGN §5). */
  const local = async () => (await event('local-credentials.json')) as Record<string, string>;
  const context = { getRemainingTimeInMillis: () => 30_000, awsRequestId: 'e2e-sqs' } as unknown as Context;
  let dir: string;
  afterAll(async () => dir && rm(dir, { recursive: true, force: true }));

  it('a config and a distribution push answered 202 by intake are applied in order by the worker: the Deployment runs the pushed digest', async () => {
    dir = await mkdtemp(join(tmpdir(), 'kfm-e2e-sqs-'));
    const { loadSettings } = await import('../src/settings/settings.js');
    const { createLogger } = await import('../src/log.js');
    const { lazyDeployer } = await import('../src/app/runtime.js');
    const { createIntakeHandler } = await import('../handlers/intake.js');
    const { createWorkerHandler } = await import('../handlers/worker.js');
    const credentials = await local();
    watchSecrets(...Object.values(credentials), 'sample-mysql-password');
    const settings = loadSettings({
      KFM_TARGET: `dir:${dir}`, KFM_OFFLINE: 'true', ...credentials,
      KFM_IMAGE: 'gcr.io/kubeflow-images-public/metadata:v0.1.8', // the sample push's registry (its request.host)
    });
    const logger = createLogger();
    const { queueUrl } = await createQueues();
    const intake = createIntakeHandler(settings, { queue: createSqsQueue({ client, queueUrl }), logger });
    const answers = [];
    for (const name of ['config.json', 'push-distribution.json']) answers.push(await intake(await event(name), context));
    expect(answers.map((a) => a.statusCode)).toEqual([202, 202]);
    const ids = answers.map((a) => JSON.parse(a.body as string).accepted as string);

    const worker = createWorkerHandler(settings, { deployer: lazyDeployer(settings, logger), logger });
    const source = await eventSource(queueUrl, (batch) => worker(batch, context));
    await source.waitFor(() => source.records().length >= 2, 20_000, 'both commands');
    expect(source.deliveries.flatMap((d) => d.failed)).toEqual([]);
    // In the order intake accepted them, one group, each once, carrying intake's id as its deduplication id.
    expect(source.records().map((r) => [r.attributes.MessageGroupId, r.attributes.MessageDeduplicationId])).toEqual(ids.map((id) => ['kubeflow/kubeflow-metadata', id]));
    const deployment = parse(await readFile(join(dir, 'kubeflow', 'deployment-kubeflow-metadata.yaml'), 'utf8'));
    expect(deployment.spec.template.spec.containers[0].image).toBe(
      'gcr.io/kubeflow-images-public/metadata@sha256:59168bcdb588317a51f6533d5195f22eaed203fdd60eed19732df8e27003f946');
  }, 40_000);
});
