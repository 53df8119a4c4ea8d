// The worker's batch: each queue record becomes one step, in order. A transient
// failure is reported as a batch item failure, so SQS delivers it again (and
// after MAX_RECEIVE_COUNT receives moves it to the dead-letter queue); a
// permanent refusal is recorded and acknowledged. FIFO: once a record of a
// group fails, the later records of that group in the batch fail too, unseen,
// or they would be applied before it.
import type { Command } from '../domain/commands.js';
import { describeCommand, parseCommand } from '../domain/commands.js';
import type { Logger } from '../log.js';
import { noMetrics, type Metrics } from '../observability/metrics.js';
import { isEcrEvent, parseEcrEvent } from '../registry/payloads/index.js';
import { MAX_RECEIVE_COUNT, type BatchResult, type CommandQueue, type QueueBatch, type QueueRecord } from '../queue/port.js';
import { checkCommand, pushCommand, refreshCommand, triggerOf, type IntakeOptions } from '../intake/commands.js';
import { isScheduledEvent } from './scheduled-refresh.js';
import type { Deployer, StepReport } from './deployer.js';

export interface WorkerDeps {
  deployer: Deployer;
  logger: Logger;
  /** Applied, Ignored, Failed, DeadLettered and StepDuration; none by default. */
  metrics?: Metrics;
  intake: Omit<IntakeOptions, 'now'>;
  now?: () => Date;
  /** Every step's report (`npm start` prints them). */
  onReport?: (report: StepReport) => void;
  /** Where a rollout that outlives the invocation gets its check (the same FIFO group, after this step). */
  followUp?: { queue: CommandQueue; groupId: string };
}

/** A step that must run again: SQS redelivers it. */
class RetryLater extends Error {}

/** The command a record carries: intake's, or an EventBridge event the queue got directly (ECR, the schedule). */
export function commandOf(record: QueueRecord, options: IntakeOptions): Command | { refused: string } {
  const command = parseCommand(record.body);
  if (command) return command;
  let event: unknown;
  try {
    event = JSON.parse(record.body);
  } catch {
    return { refused: 'the message is not JSON' };
  }
  if (isScheduledEvent(event)) return refreshCommand((event as { id?: string }).id, options.now);
  if (isEcrEvent(event)) {
    try {
      const accepted = pushCommand(parseEcrEvent(event), options);
      return accepted.command ?? { refused: accepted.ignored.join('; ') };
    } catch (error) {
      return { refused: (error as Error).message };
    }
  }
  return { refused: 'the message is not a command' };
}

export function createWorker(deps: WorkerDeps) {
  const now = deps.now ?? (() => new Date());
  const metrics = deps.metrics ?? noMetrics;

  /** The next look at a rollout still in progress: a new message, so the group goes on after it (never a redelivery, which counts receives). */
  async function scheduleCheck({ queue, groupId }: NonNullable<WorkerDeps['followUp']>, rollout: string): Promise<void> {
    const command = checkCommand(rollout, now());
    await queue.send({ groupId, deduplicationId: command.id, body: JSON.stringify(command) });
    deps.logger.info('rollout check scheduled', { rollout, id: command.id });
  }

  async function handleRecord(record: QueueRecord, deadline: () => number): Promise<void> {
    const receives = Number(record.attributes.ApproximateReceiveCount) || 1;
    const last = receives >= MAX_RECEIVE_COUNT;
    const command = commandOf(record, { ...deps.intake, now: now() });
    // Every line of this record (the deployer's too) carries the id intake answered.
    deps.logger.withCorrelation('refused' in command ? record.messageId : command.id);
    if ('refused' in command) {
      deps.logger.warn('queue message refused', { messageId: record.messageId, reason: command.refused });
      metrics.count('Ignored');
      await deps.deployer.record(record.messageId, 'unreadable message', 'ignored', command.refused, deadline);
      return;
    }
    const trigger = describeCommand(command);
    const started = Date.now();
    try {
      const report = await deps.deployer.run(triggerOf(command), { id: command.id, trigger, deadline });
      metrics.stepDuration(Date.now() - started);
      metrics.count(report.outcome === 'applied' ? 'Applied' : report.outcome === 'ignored' ? 'Ignored' : 'Failed');
      deps.onReport?.(report);
      deps.logger.info('step done', { id: command.id, outcome: report.outcome, reason: report.reason, status: report.status, changes: report.changes });
      if (report.outcome === 'failed') throw new RetryLater(report.reason ?? 'the step failed');
      if (report.checkLater && deps.followUp) await scheduleCheck(deps.followUp, report.checkLater);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      deps.logger.warn('step failed', { id: command.id, receives, reason });
      if (!(error instanceof RetryLater)) metrics.count('Failed'); // a failed outcome was counted above
      if (last) {
        metrics.count('DeadLettered');
        await deps.deployer.record(command.id, trigger, 'dead-lettered', `after ${receives} receives: ${reason}`, deadline).catch(() => undefined);
      }
      throw error;
    }
  }

  return async function handleBatch(batch: QueueBatch, deadline: () => number): Promise<BatchResult> {
    const failed = new Set<string>();
    const batchItemFailures: BatchResult['batchItemFailures'] = [];
    for (const record of batch.Records) {
      const group = record.attributes.MessageGroupId ?? '';
      if (failed.has(group)) {
        batchItemFailures.push({ itemIdentifier: record.messageId });
        continue;
      }
      try {
        await handleRecord(record, deadline);
      } catch {
        failed.add(group);
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    deps.logger.withCorrelation(undefined);
    return { batchItemFailures };
  };
}
