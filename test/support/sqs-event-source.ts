// A test double of Lambda's SQS event source mapping, over a real SQS API (moto):
// it long-polls the queue (ReceiveMessage, up to `batchSize` ≤ 10 messages, every
// system attribute), hands the batch to the handler in the record shape Lambda
// sends (aws-lambda's SQSRecord, a superset of the port's QueueRecord), deletes
// the records the handler did not report in `batchItemFailures`
// (ReportBatchItemFailures), and leaves the failed ones in the queue, where they
// come back after the visibility timeout (keep it short in tests: 1–2 s) and go
// to the dead-letter queue after the redrive policy's maxReceiveCount.
// As Lambda does: a handler that throws, or answers an itemIdentifier that is not
// in the batch, fails the whole batch (nothing is deleted).
//
// What it does NOT model:
// - concurrency: one poller, one batch at a time. Lambda runs several pollers and,
//   on a FIFO queue, invokes concurrently for different message groups; here the
//   groups of a queue are applied strictly one batch after another. Order within a
//   group and the holding of a group while a batch is in flight are SQS's own
//   (moto's here), not this double's: see test/e2e-sqs.test.ts for what moto does;
// - scaling, the batching window (MaximumBatchingWindowInSeconds), filter criteria,
//   maximumConcurrency, the function timeout (a slow handler is simply awaited; the
//   message reappears if it outlasts the visibility timeout, as on AWS) and
//   Lambda's own backoff after failed invocations;
// - the invocation context: the handler gets the event only.
import { CreateQueueCommand, DeleteMessageBatchCommand, GetQueueAttributesCommand, ReceiveMessageCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import type { SQSEvent, SQSRecord } from 'aws-lambda';
import { MAX_RECEIVE_COUNT, type BatchResult, type QueueBatch } from '../../src/queue/port.js';

export interface SqsEventSourceOptions {
  client: SQSClient;
  queueUrl: string;
  handler: (batch: QueueBatch) => Promise<BatchResult | void>;
  /** Lambda's BatchSize; SQS returns at most 10 per ReceiveMessage. */
  batchSize?: number;
  /** Long-poll wait per ReceiveMessage (s): also how long a stop() can wait at most without an abort. */
  waitTimeSeconds?: number;
}

export interface Delivery {
  batch: SQSEvent;
  /** The records deleted after this batch, and those left for redelivery. */
  deleted: string[];
  failed: string[];
  /** Why the whole batch failed (the handler threw, or answered an unknown itemIdentifier). */
  error?: string;
}

export interface SqsEventSource {
  readonly deliveries: Delivery[];
  /** Every record handed to the handler so far, in delivery order (redeliveries included). */
  records(): SQSRecord[];
  /**
   * Resolves once `predicate` holds while no batch is in hand (so a handler's side effects and the
   * batch's deletes are seen together); checked every 50 ms; rejects after `timeoutMs`.
   */
  waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void>;
  /** Stops polling (aborts the long poll in flight) and waits for the batch in hand to finish. */
  stop(): Promise<void>;
}

function toRecord(message: Message, queueArn: string, region: string): SQSRecord {
  const a = message.Attributes ?? {};
  return {
    messageId: message.MessageId!,
    receiptHandle: message.ReceiptHandle!,
    body: message.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? '',
      SenderId: a.SenderId ?? '',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? '',
      ...(a.SequenceNumber !== undefined && { SequenceNumber: a.SequenceNumber }),
      ...(a.MessageGroupId !== undefined && { MessageGroupId: a.MessageGroupId }),
      ...(a.MessageDeduplicationId !== undefined && { MessageDeduplicationId: a.MessageDeduplicationId }),
    },
    messageAttributes: {},
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

export async function startSqsEventSource(options: SqsEventSourceOptions): Promise<SqsEventSource> {
  const { client, queueUrl, handler } = options;
  const batchSize = Math.min(options.batchSize ?? 10, 10);
  const waitTimeSeconds = options.waitTimeSeconds ?? 1;
  const { Attributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }));
  const queueArn = Attributes?.QueueArn ?? '';
  const region = await client.config.region();
  const deliveries: Delivery[] = [];
  const pollErrors: string[] = [];
  const abort = new AbortController();
  let running = true;
  let inHand = false;

  async function deliver(messages: Message[]): Promise<void> {
    const records = messages.map((message) => toRecord(message, queueArn, region));
    const batch: SQSEvent = { Records: records };
    const ids = new Set(records.map((record) => record.messageId));
    let failed: string[];
    let error: string | undefined;
    try {
      const result = await handler(batch);
      failed = (result?.batchItemFailures ?? []).map((failure) => failure.itemIdentifier);
      const unknown = failed.filter((id) => !ids.has(id));
      if (unknown.length > 0) error = `batchItemFailures names records not in the batch: ${unknown.join(', ')}`;
    } catch (thrown) {
      failed = [];
      error = `the handler threw: ${(thrown as Error)?.message ?? String(thrown)}`;
    }
    if (error !== undefined) failed = [...ids];
    const deleted = records.filter((record) => !failed.includes(record.messageId));
    if (deleted.length > 0) {
      const answer = await client.send(new DeleteMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: deleted.map((record, index) => ({ Id: String(index), ReceiptHandle: record.receiptHandle })),
      }));
      if (answer.Failed?.length) pollErrors.push(`DeleteMessageBatch failed: ${JSON.stringify(answer.Failed)}`);
    }
    deliveries.push({ batch, deleted: deleted.map((record) => record.messageId), failed, ...(error !== undefined && { error }) });
  }

  const loop = (async () => {
    while (running) {
      let messages: Message[] = [];
      try {
        ({ Messages: messages = [] } = await client.send(new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: batchSize,
          WaitTimeSeconds: waitTimeSeconds,
          // Both spellings: AttributeNames is deprecated, MessageSystemAttributeNames its successor.
          AttributeNames: ['All'],
          MessageSystemAttributeNames: ['All'],
        }), { abortSignal: abort.signal }));
      } catch (error) {
        if (!running) break;
        pollErrors.push(`ReceiveMessage failed: ${(error as Error).message}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
        continue;
      }
      if (messages.length === 0) continue;
      inHand = true;
      try {
        await deliver(messages);
      } catch (error) {
        pollErrors.push(`delivering a batch failed: ${(error as Error).message}`);
      } finally {
        inHand = false;
      }
    }
  })();

  return {
    deliveries,
    records: () => deliveries.flatMap((delivery) => delivery.batch.Records),
    async waitFor(predicate, timeoutMs, what) {
      const deadline = Date.now() + timeoutMs;
      while (inHand || !predicate()) {
        if (pollErrors.length > 0) throw new Error(`the SQS event source failed: ${pollErrors.join('; ')}`);
        if (Date.now() > deadline) {
          // Deduplication ids, not bodies: a config command's body carries a MySQL password.
          const seen = deliveries.map((d) => `[${d.batch.Records.map((r) => r.attributes.MessageDeduplicationId).join(', ')}]${d.failed.length ? ` failed ${d.failed.length}` : ''}`);
          throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; batches so far: ${seen.join(' ') || 'none'}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async stop() {
      running = false;
      abort.abort();
      await loop;
      if (pollErrors.length > 0) throw new Error(`the SQS event source failed: ${pollErrors.join('; ')}`);
    },
  };
}

/**
 * A FIFO queue and its FIFO dead-letter queue, configured like serverless.yml's (content-based
 * deduplication for the EventBridge targets, RedrivePolicy maxReceiveCount = MAX_RECEIVE_COUNT, 14-day
 * DLQ), but with a visibility timeout short enough for a test to see a failed record come back.
 */
export async function createFifoQueues(client: SQSClient, name: string, visibilityTimeoutSeconds: number) {
  const dlq = await client.send(new CreateQueueCommand({ QueueName: `${name}-dlq.fifo`, Attributes: { FifoQueue: 'true', MessageRetentionPeriod: '1209600' } }));
  const { Attributes } = await client.send(new GetQueueAttributesCommand({ QueueUrl: dlq.QueueUrl, AttributeNames: ['QueueArn'] }));
  const main = await client.send(new CreateQueueCommand({
    QueueName: `${name}.fifo`,
    Attributes: {
      FifoQueue: 'true',
      ContentBasedDeduplication: 'true',
      VisibilityTimeout: String(visibilityTimeoutSeconds),
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: Attributes!.QueueArn, maxReceiveCount: MAX_RECEIVE_COUNT }),
    },
  }));
  return { queueUrl: main.QueueUrl!, dlqUrl: dlq.QueueUrl! };
}
