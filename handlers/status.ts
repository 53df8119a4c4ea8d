// The status function: GET /status (status, flags, resources, the audit trail; never a secret). Wiring only.
import type { Context } from 'aws-lambda';
import type { Settings } from '../src/settings/settings.js';
import type { Logger } from '../src/log.js';
import { lazyDeployer, localDeployerOf } from '../src/app/runtime.js';
import { httpStack } from '../src/http/stack.js';
import { jsonResponse, type HttpEvent, type HttpResult } from '../src/http/types.js';
import { defaultHandler } from '../src/app/process-defaults.js';

export interface StatusAdapters {
  deployer: ReturnType<typeof lazyDeployer>;
  logger: Logger;
}

export function createStatusHandler(settings: Settings, adapters: StatusAdapters) {
  return httpStack({ route: () => 'status', credentials: settings.credentials, logger: adapters.logger, body: false }, async (_event, context) =>
    jsonResponse(200, await (await adapters.deployer()).status(() => context.getRemainingTimeInMillis())));
}

/**
 * Its own deployer; locally (no queue), the in-process worker's when one runs in this process (npm run
 * serve), which shows the outcomes it holds in memory too. Asked on every call: intake may start it later.
 */
export function statusDeployer(settings: Settings, logger: Logger): StatusAdapters['deployer'] {
  const own = lazyDeployer(settings, logger);
  return settings.queueUrl ? own : () => (localDeployerOf(settings) ?? own)();
}

export const handler = defaultHandler<HttpEvent, HttpResult>('status', ({ settings, logger }) =>
  createStatusHandler(settings, { deployer: statusDeployer(settings, logger), logger }));
