// The registry payload parsers behind one entry point: the webhook route's
// `{provider}` picks the format; ECR arrives from EventBridge instead.
import type { ParsedPushes, Provider } from '../../domain/types.js';
import { notFound } from '../../errors.js';
import { parseAcr } from './acr.js';
import { parseDistribution } from './distribution.js';
import { parseDockerhub } from './dockerhub.js';
import { parseGeneric } from './generic.js';
import { parseGhcr } from './ghcr.js';
import { parseHarbor } from './harbor.js';
import { parseQuay } from './quay.js';

export { parseEcrEvent } from './ecr.js';

export type WebhookProvider = Exclude<Provider, 'ecr'>;

type Parser = (body: unknown, headers: Record<string, string | undefined>) => ParsedPushes;

// A Map, not an object literal: a route parameter like `__proto__` must not find a parser.
const PARSERS = new Map<WebhookProvider, Parser>([
  ['distribution', parseDistribution],
  ['dockerhub', parseDockerhub],
  ['harbor', parseHarbor],
  ['quay', parseQuay],
  ['acr', parseAcr],
  ['ghcr', parseGhcr],
  ['generic', parseGeneric],
]);

export const WEBHOOK_PROVIDERS: readonly WebhookProvider[] = Object.freeze([...PARSERS.keys()]);

export function isWebhookProvider(value: string): value is WebhookProvider {
  return PARSERS.has(value as WebhookProvider);
}

/** Normalises a webhook body; `headers` lower-cased. Throws HttpError 400 naming the bad field. */
export function parsePushWebhook(
  provider: WebhookProvider,
  body: unknown,
  headers: Record<string, string | undefined>,
): ParsedPushes {
  const parse = PARSERS.get(provider);
  // Unreachable when the caller checked isWebhookProvider; still an HTTP answer, never a 500.
  if (parse === undefined) throw notFound('unknown registry provider');
  return parse(body, headers);
}

/** Whether a Lambda event is ECR's EventBridge push notification (rather than an HTTP request). */
export function isEcrEvent(event: unknown): boolean {
  if (typeof event !== 'object' || event === null) return false;
  const record = event as Record<string, unknown>;
  return record['source'] === 'aws.ecr' && record['detail-type'] === 'ECR Image Action';
}
