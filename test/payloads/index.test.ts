import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { HttpError } from '../../src/errors.js';
import {
  WEBHOOK_PROVIDERS,
  isEcrEvent,
  isWebhookProvider,
  parseEcrEvent,
  parsePushWebhook,
  type WebhookProvider,
} from '../../src/registry/payloads/index.js';

const load = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../../events/push-${name}.json`, import.meta.url), 'utf8')) as Record<string, unknown>;

describe('registry payloads entry point', () => {
  it('lists the webhook providers (every provider but ecr)', () => {
    expect(WEBHOOK_PROVIDERS).toStrictEqual(['distribution', 'dockerhub', 'harbor', 'quay', 'acr', 'ghcr', 'generic']);
  });

  it.each(['distribution', 'generic', 'ghcr'])('recognises %s', (name) => {
    expect(isWebhookProvider(name)).toBe(true);
  });

  it.each(['ecr', '__proto__', 'constructor', 'toString', 'Distribution', ''])('refuses %p', (name) => {
    expect(isWebhookProvider(name)).toBe(false);
  });

  it.each(WEBHOOK_PROVIDERS.map((provider) => [provider]))('dispatches %s to its parser (sample gives one event)', (provider) => {
    const event = load(provider);
    const result = parsePushWebhook(provider, JSON.parse(event['body'] as string), event['headers'] as Record<string, string>);
    expect(result.events).toHaveLength(1);
    expect(result.events[0]?.provider).toBe(provider);
    // v0.1.9 everywhere; the distribution sample's tag is set by the `npm start` demo.
    expect(result.events[0]?.tag).toMatch(provider === 'distribution' ? /^v0\.1\.\d+$/ : /^v0\.1\.9$/);
  });

  it('answers 404 for a provider that slipped past isWebhookProvider', () => {
    try {
      parsePushWebhook('nope' as WebhookProvider, {}, {});
      throw new Error('expected an HttpError');
    } catch (error) {
      expect(error).toBeInstanceOf(HttpError);
      expect((error as HttpError).statusCode).toBe(404);
    }
  });

  it('recognises the ECR EventBridge sample, and nothing else', () => {
    const ecr = load('ecr');
    expect(isEcrEvent(ecr)).toBe(true);
    expect(parseEcrEvent(ecr).events[0]?.registry).toBe('123456789012.dkr.ecr.eu-west-1.amazonaws.com');
    for (const other of [load('distribution'), null, [], 'aws.ecr', { source: 'aws.ecr' }, { ...ecr, 'detail-type': 'ECR Image Scan' }]) {
      expect(isEcrEvent(other)).toBe(false);
    }
  });
});
