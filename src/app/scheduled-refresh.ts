// The scheduled refresh (serverless.yml: `schedule` on the push function). A
// resource re-fetch of the deployed tag, like a push without a payload: ECR
// pull credentials last 12 hours, so the pull Secret is renewed before pods
// rescheduled later fail to pull, and a push whose webhook was lost is caught.
import type { Logger } from '../log.js';
import type { Deployer, StepReport } from './deployer.js';

/** EventBridge's scheduled events: `source: aws.events`, `detail-type: Scheduled Event`. */
export function isScheduledEvent(event: unknown): boolean {
  const record = event as Record<string, unknown> | null;
  return typeof record === 'object' && record !== null && record.source === 'aws.events' && record['detail-type'] === 'Scheduled Event';
}

export async function refreshResource(deployer: Deployer, logger: Logger): Promise<StepReport> {
  const report = await deployer.run({ hook: 'upgrade-charm' });
  logger.info('scheduled refresh', { status: report.status, changes: report.changes, failures: report.failures });
  return report;
}
