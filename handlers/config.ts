// The config function: POST /webhooks/config (charm config and MySQL relation data). Wiring only.
import { createLogger } from '../src/log.js';
import { loadSettings } from '../src/settings/settings.js';
import { lazyDeployer } from '../src/app/runtime.js';
import { parseConfigRequest } from '../src/app/config-request.js';
import { httpStack } from '../src/http/stack.js';
import { jsonResponse } from '../src/http/types.js';

const settings = loadSettings();
const logger = createLogger();
const deployer = lazyDeployer(settings, logger);

export const handler = httpStack({ route: () => 'config', secret: settings.webhookSecret, logger, body: true }, async (event, context) => {
  const trigger = parseConfigRequest(event.json);
  const report = await (await deployer(() => context.getRemainingTimeInMillis())).run(trigger);
  logger.info('config handled', { status: report.status, changes: report.changes });
  return jsonResponse(200, report);
});
