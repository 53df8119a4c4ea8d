// The SQS FIFO adapter of the queue port: one SendMessage per command, the
// message group being the workload and the deduplication id the event's
// identity. Imports only the one command it sends from @aws-sdk/client-sqs (the
// client is built by the caller), so the intake's cold start stays small.
import { createHash } from 'node:crypto';
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { QueueError } from '../errors.js';
import type { CommandQueue, QueueMessage } from './port.js';

export interface SqsQueueOptions {
  client: Pick<SQSClient, 'send'>;
  /** The FIFO queue's URL (KFM_QUEUE_URL: the template's `Ref` of the queue). */
  queueUrl: string;
}

/** What SQS accepts for MessageGroupId and MessageDeduplicationId: 1–128 printable ASCII characters. */
const SQS_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * The deduplication id SQS is sent. An event id outside SQS's grammar (too long, a space, non-ASCII)
 * would be refused on every retry, and a registry retries a 5xx forever: such ids are replaced by their
 * SHA-256, which keeps the identity (the same event maps to the same id) within SQS's limits.
 */
export function sqsDeduplicationId(id: string): string {
  return SQS_ID.test(id) ? id : `sha256-${createHash('sha256').update(id, 'utf8').digest('hex')}`;
}

export function createSqsQueue({ client, queueUrl }: SqsQueueOptions): CommandQueue {
  // A standard queue would accept MessageGroupId too (fair queues) and silently lose the per-group order.
  if (!/^https?:\/\/[^/]+\/\d+\/[\w-]{1,75}\.fifo$/.test(queueUrl)) {
    throw new QueueError(`the queue URL must name an SQS FIFO queue (https://…/<account>/<name>.fifo), not "${queueUrl.slice(0, 200)}"`);
  }
  const description = `sqs:${queueUrl}`;
  return {
    description,
    async send(message: QueueMessage): Promise<void> {
      // The group is the workload (`<namespace>/<app>`, two DNS labels): invalid means a bug, not an input.
      if (!SQS_ID.test(message.groupId)) throw new QueueError(`invalid message group id "${message.groupId.slice(0, 140)}"`);
      try {
        await client.send(new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageGroupId: message.groupId,
          MessageDeduplicationId: sqsDeduplicationId(message.deduplicationId),
          MessageBody: message.body,
        }));
      } catch (error) {
        // Never the body in the message: a config command carries the MySQL password.
        const { name, message: reason } = error as Error;
        throw new QueueError(`${description}: SendMessage failed: ${name ?? 'Error'}: ${reason ?? String(error)}`, { cause: error });
      }
    },
  };
}
