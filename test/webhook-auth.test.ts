import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { HttpError } from '../src/errors.js';
import { WEBHOOK_PROVIDERS } from '../src/registry/payloads/index.js';
import { authenticate, schemesFor, type AuthRequest, type AuthRoute, type AuthScheme } from '../src/webhook/auth.js';

const SECRET = 'local-dev-secret-0123456789';
const BODY = Buffer.from('{"repository":"kubeflow-images-public/metadata",  "tag":"v0.1.9"}\n');
const sign = (body: Buffer, key = SECRET) => `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
const ROUTES: readonly AuthRoute[] = [...WEBHOOK_PROVIDERS, 'config', 'status'];

/** A request presenting one credential of the given scheme. */
function presenting(scheme: AuthScheme, value?: string): AuthRequest {
  const headers: Record<string, string> = {};
  const query: Record<string, string> = {};
  if (scheme === 'bearer') headers['authorization'] = `Bearer ${value ?? SECRET}`;
  if (scheme === 'hub-signature') headers['x-hub-signature-256'] = value ?? sign(BODY);
  if (scheme === 'signature') headers['x-signature'] = value ?? sign(BODY);
  if (scheme === 'url-token') query['token'] = value ?? SECRET;
  return { headers, query, rawBody: BODY };
}

function refusal(route: AuthRoute, request: AuthRequest, secret: string | undefined): HttpError {
  try {
    authenticate(route, request, secret);
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error('expected a 401');
}

const ALL: readonly AuthScheme[] = ['bearer', 'hub-signature', 'signature', 'url-token'];
const ACCEPTS: Record<AuthRoute, readonly AuthScheme[]> = {
  distribution: ['bearer'],
  harbor: ['bearer'],
  acr: ['bearer'],
  config: ['bearer'],
  status: ['bearer'],
  ghcr: ['bearer', 'hub-signature'],
  generic: ['bearer', 'signature'],
  dockerhub: ['bearer', 'url-token'],
  quay: ['bearer', 'url-token'],
};

describe('schemesFor', () => {
  it.each(ROUTES.map((route) => [route]))('%s accepts exactly its schemes', (route) => {
    expect(schemesFor(route)).toStrictEqual(ACCEPTS[route]);
  });
});

describe('authenticate', () => {
  const cases = ROUTES.flatMap((route) => ALL.map((scheme) => [route, scheme, ACCEPTS[route].includes(scheme)] as const));

  it.each(cases)('%s with %s → accepted: %p', (route, scheme, accepted) => {
    if (accepted) expect(() => authenticate(route, presenting(scheme), SECRET)).not.toThrow();
    else {
      const error = refusal(route, presenting(scheme), SECRET);
      expect(error.statusCode).toBe(401);
      expect(error.message).toMatch(/^missing credentials: send a Bearer token/);
    }
  });

  it.each(ROUTES.map((route) => [route]))('fails closed on %s when no secret is configured', (route) => {
    for (const secret of [undefined, '']) {
      const error = refusal(route, presenting('bearer', ''), secret);
      expect(error.statusCode).toBe(401);
      expect(error.message).toBe('webhook authentication is not configured: set KFM_WEBHOOK_SECRET');
    }
  });

  it.each([
    ['distribution', presenting('bearer', 'local-dev-secret-0123456780'), 'bad Bearer token'],
    ['distribution', presenting('bearer', `${SECRET}x`), 'bad Bearer token'],
    ['harbor', { headers: { authorization: `Basic ${SECRET}` }, query: {}, rawBody: BODY }, 'bad Bearer token'],
    ['harbor', { headers: { authorization: SECRET }, query: {}, rawBody: BODY }, 'bad Bearer token'],
    ['dockerhub', presenting('url-token', SECRET.slice(0, -1)), 'bad ?token= parameter'],
    ['ghcr', presenting('hub-signature', sign(BODY, 'another-secret-0123456789')), 'bad X-Hub-Signature-256 signature'],
    ['ghcr', presenting('hub-signature', sign(BODY).replace('sha256=', 'sha1=')), 'bad X-Hub-Signature-256 signature'],
    ['ghcr', presenting('hub-signature', sign(Buffer.from('{}'))), 'bad X-Hub-Signature-256 signature'],
    ['generic', presenting('signature', sign(BODY).slice(0, -2)), 'bad X-Signature signature'],
    ['generic', presenting('signature', ''), 'bad X-Signature signature'],
    ['generic', { headers: { 'x-signature': 'x', authorization: 'Bearer nope' }, query: {}, rawBody: BODY }, 'bad Bearer token, X-Signature signature'],
    ['status', { headers: {}, query: {}, rawBody: BODY }, 'missing credentials: send a Bearer token'],
    ['quay', { headers: {}, query: {}, rawBody: BODY }, 'missing credentials: send a Bearer token or ?token= parameter'],
    ['ghcr', { headers: {}, query: {}, rawBody: BODY }, 'missing credentials: send a Bearer token or X-Hub-Signature-256 signature'],
  ] as const)('refuses %s: %j (%s)', (route, request, message) => {
    const error = refusal(route, request, SECRET);
    expect(error.statusCode).toBe(401);
    expect(error.message).toBe(message);
    expect(error.message).not.toContain(SECRET);
  });

  it('signs the raw bytes: a signature over a re-serialised body is refused', () => {
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(BODY.toString('utf8'))));
    expect(reserialised.equals(BODY)).toBe(false);
    const error = refusal('ghcr', presenting('hub-signature', sign(reserialised)), SECRET);
    expect(error.statusCode).toBe(401);
    expect(() => authenticate('ghcr', presenting('hub-signature', sign(BODY)), SECRET)).not.toThrow();
  });

  it('accepts upper-case hex and a case-insensitive Bearer scheme', () => {
    expect(() => authenticate('generic', presenting('signature', sign(BODY).toUpperCase()), SECRET)).not.toThrow();
    const request = { headers: { authorization: `bearer ${SECRET}` }, query: {}, rawBody: BODY };
    expect(() => authenticate('config', request, SECRET)).not.toThrow();
  });

  it('accepts when one offered credential is valid even if another is wrong', () => {
    const request = { headers: { authorization: 'Bearer wrong', 'x-hub-signature-256': sign(BODY) }, query: {}, rawBody: BODY };
    expect(() => authenticate('ghcr', request, SECRET)).not.toThrow();
  });

  it('never echoes the secret or the presented value, even when they are long', () => {
    const secret = 's'.repeat(300);
    for (const request of [presenting('bearer', 'p'.repeat(300)), presenting('url-token', 'p'.repeat(300))]) {
      const error = refusal('dockerhub', request, secret);
      expect(error.message).not.toContain('sss');
      expect(error.message).not.toContain('ppp');
    }
  });

  it('authenticates the sample events as they are (signatures computed over their body strings)', () => {
    for (const provider of WEBHOOK_PROVIDERS) {
      const event = JSON.parse(readFileSync(new URL(`../events/push-${provider}.json`, import.meta.url), 'utf8')) as {
        headers: Record<string, string>;
        queryStringParameters?: Record<string, string>;
        body: string;
      };
      const request = { headers: event.headers, query: event.queryStringParameters ?? {}, rawBody: Buffer.from(event.body, 'utf8') };
      expect(() => authenticate(provider, request, SECRET)).not.toThrow();
      expect(() => authenticate(provider, request, 'another-secret-0123456789')).toThrow(HttpError);
    }
  });
});
