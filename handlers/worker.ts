// The worker function: the SQS FIFO queue's event source (ReportBatchItemFailures).
// Each record is one step: fetch, react, claim, apply. Wiring only.
import type { Context } from 'aws-lambda';
import type { Settings } from '../src/settings/settings.js';
import type { Logger } from '../src/log.js';
import type { BatchResult, QueueBatch } from '../src/queue/port.js';
import { lazyDeployer } from '../src/app/runtime.js';
import { createWorker } from '../src/app/worker.js';
import { onFirstCall, processDefaults } from '../src/app/process-defaults.js';

export interface WorkerAdapters {
  deployer: ReturnType<typeof lazyDeployer>;
  logger: Logger;
}

export function createWorkerHandler(settings: Settings, adapters: WorkerAdapters) {
  const intake = { image: settings.image, tagPolicy: settings.tagPolicy };
  return async function workerHandler(event: QueueBatch | unknown, context: Pick<Context, 'getRemainingTimeInMillis'>): Promise<BatchResult> {
    const deadline = () => context.getRemainingTimeInMillis();
    const batch = asBatch(event);
    const worker = createWorker({ deployer: await adapters.deployer(), logger: adapters.logger, intake });
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

export const handler = onFirstCall<unknown, Context, BatchResult>(() => {
  const { settings, logger } = processDefaults();
  return createWorkerHandler(settings, { deployer: lazyDeployer(settings, logger), logger });
});
