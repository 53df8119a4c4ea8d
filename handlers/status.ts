// The status function: GET /status (flags, status, resources; never a secret). Wiring only.
import { createLogger } from '../src/log.js';
import { loadSettings } from '../src/settings/settings.js';
import { lazyDeployer } from '../src/app/runtime.js';
import { httpStack } from '../src/http/stack.js';
import { jsonResponse } from '../src/http/types.js';

const settings = loadSettings();
const logger = createLogger();
const deployer = lazyDeployer(settings, logger);

export const handler = httpStack({ route: () => 'status', secret: settings.webhookSecret, logger, body: false }, async (_event, context) =>
  jsonResponse(200, await (await deployer(() => context.getRemainingTimeInMillis())).status()),
);
