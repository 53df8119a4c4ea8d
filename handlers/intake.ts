// The intake function: registry push webhooks (POST /webhooks/registry/{provider}) and the config
// webhook (POST /webhooks/config). It authenticates, bounds, parses and validates, then puts one
// command on the queue and answers 202 {"accepted": id}; what needs no action is 202 {"ignored"}.
// It never talks to the cluster or the registry. Wiring only.
import type { Context } from 'aws-lambda';
import type { Settings } from '../src/settings/settings.js';
import type { Logger } from '../src/log.js';
import type { CommandQueue } from '../src/queue/port.js';
import type { Command } from '../src/domain/commands.js';
import { notFound } from '../src/errors.js';
import { httpStack } from '../src/http/stack.js';
import { jsonResponse, type HttpEvent, type HttpResult } from '../src/http/types.js';
import { isWebhookProvider, parsePushWebhook } from '../src/registry/payloads/index.js';
import { parseConfigRequest } from '../src/app/config-request.js';
import { configCommand, pushCommand } from '../src/intake/commands.js';
import { lazySqsQueue, workloadGroup } from '../src/app/runtime.js';
import { onFirstCall, processDefaults } from '../src/app/process-defaults.js';

export interface IntakeAdapters {
  queue: CommandQueue;
  logger: Logger;
  now?: () => Date;
}

export function createIntakeHandler(settings: Settings, adapters: IntakeAdapters) {
  const { queue, logger } = adapters;
  const now = adapters.now ?? (() => new Date());
  const isConfig = (event: HttpEvent) => event.pathParameters?.provider === undefined;
  const routeOf = (event: HttpEvent) => {
    const provider = event.pathParameters?.provider ?? '';
    return isConfig(event) || !isWebhookProvider(provider) ? 'config' : provider; // unknown providers: Bearer only, then 404
  };

  async function enqueue(command: Command): Promise<HttpResult> {
    await queue.send({ groupId: workloadGroup(settings), deduplicationId: command.id, body: JSON.stringify(command) });
    logger.info('event accepted', { id: command.id, kind: command.kind });
    return jsonResponse(202, { accepted: command.id });
  }

  async function acceptPush(event: HttpEvent): Promise<HttpResult> {
    const provider = event.pathParameters?.provider ?? '';
    if (!isWebhookProvider(provider)) throw notFound(`unknown registry provider "${provider.slice(0, 40)}"`);
    const parsed = parsePushWebhook(provider, event.json, event.headers ?? {});
    const accepted = pushCommand(parsed, { image: settings.image, tagPolicy: settings.tagPolicy, now: now() });
    if (!accepted.command) {
      logger.info('push ignored', { reasons: accepted.ignored });
      return jsonResponse(202, { ignored: accepted.ignored.join('; '), reasons: accepted.ignored });
    }
    return enqueue(accepted.command);
  }

  async function acceptConfig(event: HttpEvent): Promise<HttpResult> {
    return enqueue(configCommand(parseConfigRequest(event.json), event.json, settings.webhookSecret ?? '', now()));
  }

  return httpStack({ route: routeOf, secret: settings.webhookSecret, logger, body: true }, async (event) =>
    (isConfig(event) ? acceptConfig(event) : acceptPush(event)));
}

/** SQS when KFM_QUEUE_URL is set (Lambda); else the in-process queue and worker (local runs). */
function defaultQueue(settings: Settings, logger: Logger): CommandQueue {
  if (settings.queueUrl) return lazySqsQueue(settings.queueUrl, settings.eks?.region);
  const local = import('../src/app/local-runtime.js').then(({ localRuntime }) => localRuntime(settings, logger).queue);
  return { description: 'in-process', send: async (message) => (await local).send(message) };
}

export const handler = onFirstCall<HttpEvent, Context, HttpResult>(() => {
  const { settings, logger } = processDefaults();
  return createIntakeHandler(settings, { queue: defaultQueue(settings, logger), logger });
});
