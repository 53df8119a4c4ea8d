// The status function: GET /status (status, flags, resources, the audit trail; never a secret). Wiring only.
import type { Context } from 'aws-lambda';
import type { Settings } from '../src/settings/settings.js';
import type { Logger } from '../src/log.js';
import { lazyDeployer } from '../src/app/runtime.js';
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

export const handler = defaultHandler<HttpEvent, HttpResult>('status', ({ settings, logger }) => {
  // Locally (no queue), the same deployer as the in-process worker: it shows the outcomes held in memory too.
  const deployer = settings.queueUrl
    ? lazyDeployer(settings, logger)
    : () => import('../src/app/local-runtime.js').then(({ localRuntime }) => localRuntime(settings, logger).deployer());
  return createStatusHandler(settings, { deployer, logger });
});
