// How a push webhook is answered: 200 with what was done, or 202 with why
// nothing needed doing.
import type { ParsedPushes } from '../domain/types.js';
import type { Logger } from '../log.js';
import { jsonResponse, type HttpResult } from '../http/types.js';
import type { Deployer, StepReport } from './deployer.js';

export type PushReport = StepReport | { ignored: string; reasons: string[] };

export async function pushReport(deployer: Deployer, parsed: ParsedPushes, logger: Logger): Promise<PushReport> {
  if (parsed.events.length === 0) {
    logger.info('push ignored', { reasons: parsed.ignored });
    return { ignored: parsed.ignored.join('; ') || 'no push in the payload', reasons: parsed.ignored };
  }
  const report = await deployer.run({ hook: 'upgrade-charm', pushes: parsed.events });
  report.ignored.unshift(...parsed.ignored);
  logger.info(report.skipped ? 'push ignored' : 'push handled', {
    status: report.status,
    changes: report.changes,
    ignored: report.ignored,
  });
  return report;
}

export async function answerPushes(deployer: Deployer, parsed: ParsedPushes, logger: Logger): Promise<HttpResult> {
  const report = await pushReport(deployer, parsed, logger);
  if ('reasons' in report) return jsonResponse(202, report);
  if (report.skipped) {
    const { ignored, ...rest } = report;
    return jsonResponse(202, { ignored: ignored.join('; '), reasons: ignored, ...rest });
  }
  return jsonResponse(200, report);
}
