// The worker function: the SQS FIFO queue's event source (ReportBatchItemFailures).
// Each record is one step: fetch, react, claim, apply. Wiring only.
import type { Context } from 'aws-lambda';
import type { Settings } from '../src/settings/settings.js';
import type { Logger } from '../src/log.js';
import type { BatchResult, QueueBatch } from '../src/queue/port.js';
import { lazyDeployer, lazySqsQueue, workloadGroup } from '../src/app/runtime.js';
import type { CommandQueue } from '../src/queue/port.js';
import { createWorker } from '../src/app/worker.js';
import type { Metrics } from '../src/observability/metrics.js';
import { defaultHandler } from '../src/app/process-defaults.js';

export interface WorkerAdapters {
  deployer: ReturnType<typeof lazyDeployer>;
  logger: Logger;
  /** Applied, Ignored, Failed, DeadLettered and StepDuration (EMF on Lambda); none by default. */
  metrics?: Metrics;
  /** The queue a rollout check goes back on when a rollout outlives the invocation. */
  queue?: CommandQueue;
}

export function createWorkerHandler(settings: Settings, adapters: WorkerAdapters) {
  const intake = { image: settings.image, tagPolicy: settings.tagPolicy };
  return async function workerHandler(event: QueueBatch | unknown, context: Pick<Context, 'getRemainingTimeInMillis'>): Promise<BatchResult> {
    const deadline = () => context.getRemainingTimeInMillis();
    const batch = asBatch(event);
    const followUp = adapters.queue ? { queue: adapters.queue, groupId: workloadGroup(settings) } : undefined;
    const worker = createWorker({ deployer: await adapters.deployer(), logger: adapters.logger, metrics: adapters.metrics, intake, followUp });
    return worker(batch, deadline);
  };
}

/**
 * The SQS event source's batch; a direct invocation (`npm run invoke -- worker events/push-ecr.json`)
 * with one command or EventBridge event is a batch of one, as if the queue had delivered it.
 */
function asBatch(event: unknown): QueueBatch {
  if (typeof event === 'object' && event !== null && Array.isArray((event as QueueBatch).Records)) return event as QueueBatch;
  return { Records: [{ messageId: 'direct-invocation', body: JSON.stringify(event), attributes: { ApproximateReceiveCount: '1' } }] };
}

export const handler = defaultHandler<unknown, BatchResult>('worker', ({ settings, logger, metrics }) =>
  createWorkerHandler(settings, {
    deployer: lazyDeployer(settings, logger), logger, metrics,
    queue: settings.queueUrl ? lazySqsQueue(settings.queueUrl, settings.eks?.region) : undefined,
  }));
