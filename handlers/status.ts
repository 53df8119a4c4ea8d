// The status function: GET /status (status, flags, resources, the audit trail; never a secret). Wiring only.
import type { Settings } from '../src/settings/settings.js';
import type { Logger } from '../src/log.js';
import { lazyStatusSource, localDeployerOf } from '../src/app/runtime.js';
import type { StatusSource } from '../src/app/view.js';
import { httpStack } from '../src/http/stack.js';
import { jsonResponse, type HttpEvent, type HttpResult } from '../src/http/types.js';
import { defaultHandler } from '../src/app/process-defaults.js';

export interface StatusAdapters {
  /** What the answer reads through (src/app/view.ts's StatusSource): a deployer, or the state alone. */
  source: () => Promise<StatusSource>;
  logger: Logger;
}

export function createStatusHandler(settings: Settings, adapters: StatusAdapters) {
  return httpStack({ route: () => 'status', credentials: settings.credentials, logger: adapters.logger, body: false }, async (_event, context) =>
    jsonResponse(200, await (await adapters.source()).status(() => context.getRemainingTimeInMillis())));
}

/**
 * Its own source (the target and the state ConfigMap: no deployer, registry client or notifier); locally
 * (no queue), the in-process worker's deployer when one runs in this process (npm run serve), which shows
 * the outcomes it holds in memory too. Asked on every call: intake may start it later.
 */
export function statusSource(settings: Settings, logger: Logger): StatusAdapters['source'] {
  const own = lazyStatusSource(settings, logger);
  return settings.queueUrl ? own : () => (localDeployerOf(settings) ?? own)();
}

export const handler = defaultHandler<HttpEvent, HttpResult>('status', ({ settings, logger }) =>
  createStatusHandler(settings, { source: statusSource(settings, logger), logger }));
