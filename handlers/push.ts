// The push function: registry webhooks over HTTP (POST /webhooks/registry/{provider})
// ECR pushes from EventBridge, and the scheduled refresh. Wiring only.
import type { Context } from 'aws-lambda';
import { HttpError, notFound } from '../src/errors.js';
import { createLogger } from '../src/log.js';
import { loadSettings } from '../src/settings/settings.js';
import { lazyDeployer } from '../src/app/runtime.js';
import { answerPushes, pushReport } from '../src/app/push-answer.js';
import { httpStack } from '../src/http/stack.js';
import { isScheduledEvent, refreshResource } from '../src/app/scheduled-refresh.js';
import type { HttpEvent } from '../src/http/types.js';
import { isEcrEvent, isWebhookProvider, parseEcrEvent, parsePushWebhook } from '../src/registry/payloads/index.js';

const settings = loadSettings();
const logger = createLogger();
const deployer = lazyDeployer(settings, logger);

const providerOf = (event: HttpEvent) => {
  const provider = event.pathParameters?.provider ?? '';
  return isWebhookProvider(provider) ? provider : 'config'; // unknown routes: Bearer only, then 404
};

const webhook = httpStack({ route: providerOf, secret: settings.webhookSecret, logger, body: true }, async (event, context) => {
  const provider = event.pathParameters?.provider ?? '';
  if (!isWebhookProvider(provider)) throw notFound(`unknown registry provider "${provider.slice(0, 40)}"`);
  const parsed = parsePushWebhook(provider, event.json, event.headers ?? {});
  return answerPushes(await deployer(() => context.getRemainingTimeInMillis()), parsed, logger);
});

/** EventBridge has no HTTP answer: the report is returned (and logged) for the invocation record. */
async function ecrPush(event: unknown, context: Context) {
  try {
    const parsed = parseEcrEvent(event);
    return pushReport(await deployer(() => context.getRemainingTimeInMillis()), parsed, logger);
  } catch (error) {
    if (!(error instanceof HttpError)) throw error; // retried by Lambda's async invocation
    logger.warn('ECR event refused', { reason: error.message });
    return { error: error.message };
  }
}

async function scheduledRefresh(context: Context) {
  return refreshResource(await deployer(() => context.getRemainingTimeInMillis()), logger);
}

export const handler = (event: unknown, context: Context) =>
  isEcrEvent(event) ? ecrPush(event, context)
    : isScheduledEvent(event) ? scheduledRefresh(context)
      : webhook(event as HttpEvent, context);
