// Issue 10's push→patch through a real SQS API, in its own process (from source, via tsx):
// moto in server mode (test/support/moto.ts, the venv of scripts/test-peers/install-moto.sh), a
// FIFO queue and its DLQ set up as serverless.yml sets them up (test/support/sqs-event-source.ts),
// intake's SQS adapter sending to it (SendMessage over HTTP), and the SQS event source double
// long-polling it (ReceiveMessage, WaitTimeSeconds 1) into the real worker handler, which applies
// each push to a directory target. Per push, timed from intake's call to the worker's return with
// the pushed digest in the Deployment file; also intake's answer alone (its SendMessage included)
// and the queue's share (SendMessage sent → the batch in the worker's hands).
//
// What this figure is and is not: moto is a Python process on this machine (no network, no
// replication); Lambda's event source mapping is a fleet of long pollers, modelled here by one
// (test/support/sqs-event-source.ts says what it does not model). It shows the cost of going through
// a real SQS API and its client (HTTP, XML/JSON protocol, the long poll), not AWS's own latency.
// Writes its figures as JSON to argv[2]; exits 3 (and writes `{ missing }`) when moto is not installed.
// Usage: node --import tsx bench/moto-worker.ts <out.json> <pushes>
import { writeFile, mkdtemp, readFile, rm, access, constants } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Context } from 'aws-lambda';
import { createIntakeHandler } from '../handlers/intake.js';
import { createWorkerHandler } from '../handlers/worker.js';
import { lazyDeployer } from '../src/app/runtime.js';
import { createSqsQueue } from '../src/queue/sqs.js';
import type { CommandQueue, QueueBatch } from '../src/queue/port.js';
import { loadSettings } from '../src/settings/settings.js';
import { createLogger } from '../src/log.js';
import { motoServerPath, startMoto, type Moto } from '../test/support/moto.js';
import { createFifoQueues, startSqsEventSource, type SqsEventSource } from '../test/support/sqs-event-source.js';
import { BENCH_ENV, digestFor, httpEvent } from './events.js';

const [out = '', pushCount = '100'] = process.argv.slice(2);
const pushes = Number(pushCount);
const WARM_UP = 3; // the first steps load the directory target, js-yaml, the SDK's protocol code
const TIMEOUT_MS = 15_000;

const binary = await motoServerPath();
if (!(await access(binary, constants.X_OK).then(() => true, () => false))) {
  await writeFile(out, JSON.stringify({ missing: `${binary} (bash scripts/install-test-peers.sh installs it)` }));
  process.exit(3);
}

const context = { awsRequestId: 'bench', functionName: 'bench', getRemainingTimeInMillis: () => 30_000 } as unknown as Context;
const logger = createLogger(() => undefined);
const dir = await mkdtemp(join(tmpdir(), 'kfm-bench-moto-'));
let moto: Moto | undefined;
let client: SQSClient | undefined;
let source: SqsEventSource | undefined;
const failures: string[] = [];
try {
  moto = await startMoto();
  client = new SQSClient(moto.clientConfig);
  const { queueUrl } = await createFifoQueues(client, 'kfm-bench', 30);
  const settings = loadSettings({ ...BENCH_ENV, KFM_TARGET: `dir:${dir}`, KFM_OFFLINE: 'true', KFM_QUEUE_URL: queueUrl });
  const sqs = createSqsQueue({ client, queueUrl });
  // When each command was sent (SendMessage answered) and when its batch reached the worker.
  const sentAt = new Map<string, number>();
  const receivedAt = new Map<string, number>();
  const queue: CommandQueue = {
    description: sqs.description,
    async send(message) {
      await sqs.send(message);
      sentAt.set(message.deduplicationId, performance.now());
    },
  };
  const intake = createIntakeHandler(settings, { queue, logger });
  const worker = createWorkerHandler(settings, { deployer: lazyDeployer(settings, logger), logger });
  // The worker may be done before intake's SendMessage has answered: its time is kept for deliver().
  const appliedAt = new Map<string, number>();
  const applied = new Map<string, (at: number) => void>();
  source = await startSqsEventSource({
    client, queueUrl, batchSize: 10,
    handler: async (batch: QueueBatch) => {
      const ids = batch.Records.map((record) => String(record.attributes.MessageDeduplicationId));
      const start = performance.now();
      for (const id of ids) receivedAt.set(id, start);
      const result = await worker(batch, context);
      const end = performance.now();
      if (result.batchItemFailures.length) failures.push(`worker: ${result.batchItemFailures.length} failed records in a batch of ${ids.length}`);
      for (const id of ids) {
        appliedAt.set(id, end);
        applied.get(id)?.(end);
      }
      return result;
    },
  });
  /** Calls intake; resolves when the worker has returned from the batch holding the command it accepted. */
  async function deliver(event: Record<string, unknown>) {
    const start = performance.now();
    const answer = (await intake(event as never, context)) as { statusCode: number; body: string };
    const answered = performance.now();
    const id = (JSON.parse(answer.body) as { accepted?: string }).accepted;
    if (answer.statusCode !== 202 || !id) throw new Error(`intake answered ${answer.statusCode} ${answer.body.slice(0, 200)}`);
    const done = appliedAt.get(id) ?? await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${id}: not applied within ${TIMEOUT_MS} ms`)), TIMEOUT_MS);
      applied.set(id, (at) => { clearTimeout(timer); resolve(at); });
    });
    applied.delete(id);
    return { id, start, answered, done };
  }

  await deliver(httpEvent('config', 0));
  const deploymentFile = join(dir, 'kubeflow', 'deployment-kubeflow-metadata.yaml');
  const patched: number[] = [];
  const answers: number[] = [];
  const transits: number[] = [];
  for (let n = 1; n <= pushes + WARM_UP; n++) {
    try {
      const { id, start, answered, done } = await deliver(httpEvent('push', n));
      const written = await readFile(deploymentFile, 'utf8').catch(() => '');
      if (!written.includes(digestFor(n))) failures.push(`push ${n}: the Deployment file does not name ${digestFor(n)}`);
      if (n <= WARM_UP) continue;
      patched.push(done - start);
      answers.push(answered - start);
      transits.push((receivedAt.get(id) ?? Number.NaN) - (sentAt.get(id) ?? Number.NaN));
    } catch (error) {
      failures.push(`push ${n}: ${(error as Error).message}`);
    }
  }
  await writeFile(out, JSON.stringify({ patched, answers, transits, failures }));
} finally {
  await source?.stop().catch((error: unknown) => void failures.push(String(error)));
  client?.destroy();
  await moto?.stop();
  await rm(dir, { recursive: true, force: true });
}
