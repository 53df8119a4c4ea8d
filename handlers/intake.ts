// The intake function: registry push webhooks (POST /webhooks/registry/{provider}), the config
// webhook (POST /webhooks/config) and the control route (POST /control, with its own credential:
// pin, unpin, suspend, resume, unquarantine). It authenticates, bounds, parses and validates, then puts one
// command on the queue and answers 202 {"accepted": id}; what needs no action is 202 {"ignored"}.
// It never talks to the cluster or the registry. Wiring only.
import type { Settings } from '../src/settings/settings.js';
import type { Logger } from '../src/log.js';
import { noMetrics, type Metrics } from '../src/observability/metrics.js';
import type { CommandQueue } from '../src/queue/port.js';
import { controlRequestSchema, type Command, type ControlRequest } from '../src/domain/commands.js';
import { parseBody } from '../src/validation.js';
import { notFound } from '../src/errors.js';
import { httpStack } from '../src/http/stack.js';
import { jsonResponse, type HttpEvent, type HttpResult } from '../src/http/types.js';
import { isWebhookProvider, parsePushWebhook } from '../src/registry/payloads/index.js';
import { parseConfigRequest } from '../src/app/config-request.js';
import { workloadNames } from '../src/render/names.js';
import { configCommand, controlCommand, pushCommand } from '../src/intake/commands.js';
import { lazySqsQueue, workloadGroup } from '../src/app/runtime.js';
import { defaultHandler } from '../src/app/process-defaults.js';
import type { AuthRoute } from '../src/webhook/auth.js';

export interface IntakeAdapters {
  queue: CommandQueue;
  logger: Logger;
  /** Accepted and Ignored counts (EMF on Lambda); none by default. */
  metrics?: Metrics;
  now?: () => Date;
}

export function createIntakeHandler(settings: Settings, adapters: IntakeAdapters) {
  const { queue, logger } = adapters;
  const metrics = adapters.metrics ?? noMetrics;
  const now = adapters.now ?? (() => new Date());
  const names = workloadNames(settings.app);
  // POST /control has no provider either: told apart by its path, so a config credential never reaches it.
  const isControl = (event: HttpEvent) => event.routeKey === 'POST /control' || event.rawPath === '/control';
  const isConfig = (event: HttpEvent) => event.pathParameters?.provider === undefined && !isControl(event);
  const routeOf = (event: HttpEvent): AuthRoute => {
    if (isControl(event)) return 'control';
    if (isConfig(event)) return 'config';
    const provider = event.pathParameters?.provider ?? '';
    return isWebhookProvider(provider) ? provider : 'distribution'; // unknown providers: the push Bearer only, then 404
  };

  async function enqueue(command: Command): Promise<HttpResult> {
    logger.withCorrelation(command.id); // before the send: a failure's line carries it too
    await queue.send({ groupId: workloadGroup(settings), deduplicationId: command.id, body: JSON.stringify(command) });
    logger.info('event accepted', { id: command.id, kind: command.kind });
    metrics.count('Accepted');
    return jsonResponse(202, { accepted: command.id });
  }

  async function acceptPush(event: HttpEvent): Promise<HttpResult> {
    const provider = event.pathParameters?.provider ?? '';
    if (!isWebhookProvider(provider)) throw notFound(`unknown registry provider "${provider.slice(0, 40)}"`);
    const parsed = parsePushWebhook(provider, event.json, event.headers ?? {});
    const accepted = pushCommand(parsed, { image: settings.image, tagPolicy: settings.tagPolicy, now: now() });
    if (!accepted.command) {
      logger.info('push ignored', { reasons: accepted.ignored });
      metrics.count('Ignored');
      return jsonResponse(202, { ignored: accepted.ignored.join('; '), reasons: accepted.ignored });
    }
    return enqueue(accepted.command);
  }

  async function acceptConfig(event: HttpEvent): Promise<HttpResult> {
    // Keyed by the config credential: a body's identity must not be a plain hash of its password.
    return enqueue(configCommand(parseConfigRequest(event.json, { ownSecrets: [names.mysqlSecret, names.pullSecret] }), event.json, settings.credentials.config ?? '', now()));
  }

  // Authenticated with KFM_CONTROL_SECRET already: pin, unpin, suspend, resume, unquarantine.
  async function acceptControl(event: HttpEvent): Promise<HttpResult> {
    return enqueue(controlCommand(parseBody(controlRequestSchema(), event.json) as ControlRequest, now()));
  }

  return httpStack({ route: routeOf, credentials: settings.credentials, logger, body: true }, async (event) =>
    (isControl(event) ? acceptControl(event) : isConfig(event) ? acceptConfig(event) : acceptPush(event)));
}

/** SQS when KFM_QUEUE_URL is set (Lambda); else the in-process queue and worker (local runs). */
function defaultQueue(settings: Settings, logger: Logger): CommandQueue {
  if (settings.queueUrl) return lazySqsQueue(settings.queueUrl, settings.eks?.region);
  const local = import('../src/app/local-runtime.js').then(({ localRuntime }) => localRuntime(settings, logger).queue);
  return { description: 'in-process', send: async (message) => (await local).send(message) };
}

export const handler = defaultHandler<HttpEvent, HttpResult>('intake', ({ settings, logger, metrics }) =>
  createIntakeHandler(settings, { queue: defaultQueue(settings, logger), logger, metrics }));
