// The queue port: intake puts one command per accepted event on it; the worker
// consumes it in order per group. Adapters: SQS FIFO (src/queue/sqs.ts) and the
// in-process queue (src/queue/in-process.ts) for `npm start`, `npm run serve`
// and the tests, with the same semantics (group order, deduplication window,
// retries, dead letters).

export interface QueueMessage {
  /** The workload (`<namespace>/<app>`): one group is applied one message at a time, in order. */
  groupId: string;
  /** The event's identity: a redelivery within the deduplication window (5 minutes) is dropped. */
  deduplicationId: string;
  /** The command, as JSON (src/domain/commands.ts). */
  body: string;
}

export interface CommandQueue {
  /** Human-readable place, for logs (`sqs:<url>`, `in-process`). */
  readonly description: string;
  /** Resolves once the queue has the message durably; throws QueueError otherwise. */
  send(message: QueueMessage): Promise<void>;
}

/**
 * The subset of an SQS record the worker reads (the Lambda event source's shape),
 * so the in-process queue can hand the worker the very records SQS would.
 */
export interface QueueRecord {
  messageId: string;
  body: string;
  attributes: {
    /** How many times this message was received, this delivery included (a string, as SQS sends it). */
    ApproximateReceiveCount: string;
    MessageGroupId?: string;
    MessageDeduplicationId?: string;
    SentTimestamp?: string;
  };
}

export interface QueueBatch {
  Records: QueueRecord[];
}

/** The worker's answer (`ReportBatchItemFailures`): the records to deliver again. */
export interface BatchResult {
  batchItemFailures: { itemIdentifier: string }[];
}

/** SQS's own default and this project's redrive policy (serverless.yml): then the dead-letter queue. */
export const MAX_RECEIVE_COUNT = 5;
