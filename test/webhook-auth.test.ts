import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { HttpError } from '../src/errors.js';
import { WEBHOOK_PROVIDERS } from '../src/registry/payloads/index.js';
import type { Credentials } from '../src/settings/settings.js';
import { authenticate, powerFor, schemesFor, type AuthRequest, type AuthRoute, type AuthScheme, type Power } from '../src/webhook/auth.js';

/** One credential per power (DESIGN §5), each ≥ 32 bytes and its own. */
const CREDENTIALS: Required<Credentials> = {
  push: 'auth-test-push-secret-0123456789abcdef',
  dockerhub: 'auth-test-dockerhub-token-0123456789ab',
  quay: 'auth-test-quay-token-0123456789abcdef01',
  config: 'auth-test-config-secret-0123456789abcd',
  control: 'auth-test-control-secret-0123456789abc',
  status: 'auth-test-status-token-0123456789abcde',
};
const POWERS = Object.keys(CREDENTIALS) as Power[];
const VARIABLE: Record<Power, string> = {
  push: 'KFM_WEBHOOK_SECRET', dockerhub: 'KFM_DOCKERHUB_TOKEN', quay: 'KFM_QUAY_TOKEN',
  config: 'KFM_CONFIG_SECRET', control: 'KFM_CONTROL_SECRET', status: 'KFM_STATUS_TOKEN',
};
const OTHER = 'auth-test-another-secret-0123456789abcd';
const BODY = Buffer.from('{"repository":"kubeflow-images-public/metadata",  "tag":"v0.1.9"}\n');
const sign = (body: Buffer, key = CREDENTIALS.push) => `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
const ROUTES: readonly AuthRoute[] = [...WEBHOOK_PROVIDERS, 'config', 'control', 'status'];

const ALL: readonly AuthScheme[] = ['bearer', 'hub-signature', 'signature', 'url-token'];
/** DESIGN §5's table: each route's schemes, and the power each one checks. */
const ACCEPTS: Record<AuthRoute, Partial<Record<AuthScheme, Power>>> = {
  distribution: { bearer: 'push' },
  harbor: { bearer: 'push' },
  acr: { bearer: 'push' },
  ghcr: { bearer: 'push', 'hub-signature': 'push' },
  generic: { bearer: 'push', signature: 'push' },
  dockerhub: { bearer: 'push', 'url-token': 'dockerhub' },
  quay: { bearer: 'push', 'url-token': 'quay' },
  config: { bearer: 'config' },
  control: { bearer: 'control' },
  status: { bearer: 'status' },
};
const NAME: Record<AuthScheme, string> = { bearer: 'Bearer token', 'hub-signature': 'X-Hub-Signature-256 signature', signature: 'X-Signature signature', 'url-token': '?token= parameter' };

/** A request presenting one credential by one scheme: a signature is the HMAC of the body with it. */
function presenting(scheme: AuthScheme, credential: string, options: { raw?: boolean } = {}): AuthRequest {
  const headers: Record<string, string> = {};
  const query: Record<string, string> = {};
  const value = options.raw || scheme === 'bearer' || scheme === 'url-token' ? credential : sign(BODY, credential);
  if (scheme === 'bearer') headers['authorization'] = `Bearer ${value}`;
  if (scheme === 'hub-signature') headers['x-hub-signature-256'] = value;
  if (scheme === 'signature') headers['x-signature'] = value;
  if (scheme === 'url-token') query['token'] = value;
  return { headers, query, rawBody: BODY };
}
/** The request a route's own scheme takes, carrying the right credential. */
const valid = (route: AuthRoute, scheme: AuthScheme) => presenting(scheme, CREDENTIALS[ACCEPTS[route][scheme]!]);

function refusal(route: AuthRoute, request: AuthRequest, credentials: Credentials): HttpError {
  try {
    authenticate(route, request, credentials);
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error('expected a 401');
}

describe('schemesFor and powerFor', () => {
  it.each(ROUTES.map((route) => [route]))('%s accepts exactly its schemes, each with its power', (route) => {
    expect(schemesFor(route)).toStrictEqual(Object.keys(ACCEPTS[route]));
    for (const scheme of ALL) expect(powerFor(route, scheme)).toBe(ACCEPTS[route][scheme]);
  });
});

describe('authenticate', () => {
  const cases = ROUTES.flatMap((route) => ALL.map((scheme) => [route, scheme, ACCEPTS[route][scheme]] as const));

  it.each(cases)('%s with %s: only the %s credential gets in', (route, scheme, power) => {
    for (const other of POWERS) {
      const request = presenting(scheme, CREDENTIALS[other]);
      if (power === other) {
        expect(() => authenticate(route, request, CREDENTIALS)).not.toThrow();
        continue;
      }
      const error = refusal(route, request, CREDENTIALS);
      expect(error.statusCode).toBe(401);
      // A scheme the route does not take is no credential at all; one it takes, with another power's value, is wrong.
      expect(error.message).toBe(power === undefined ? `missing credentials: send a ${Object.keys(ACCEPTS[route]).map((s) => NAME[s as AuthScheme]).join(' or ')}` : `bad ${NAME[scheme]}`);
      for (const value of Object.values(CREDENTIALS)) expect(error.message).not.toContain(value);
    }
  });

  it.each(ROUTES.map((route) => [route]))('fails closed on %s when none of its credentials is configured, naming their variables', (route) => {
    const own = [...new Set(Object.values(ACCEPTS[route]))];
    const others = Object.fromEntries(POWERS.filter((p) => !own.includes(p)).map((p) => [p, CREDENTIALS[p]])) as Credentials;
    const blank = Object.fromEntries(own.map((p) => [p, ''])) as Credentials;
    for (const credentials of [{}, others, { ...others, ...blank }]) {
      for (const scheme of Object.keys(ACCEPTS[route]) as AuthScheme[]) {
        for (const value of ['', ...Object.values(CREDENTIALS)]) {
          const error = refusal(route, presenting(scheme, value), credentials);
          expect(error.statusCode).toBe(401);
          expect(error.message).toBe(`authentication is not configured for this route: set ${own.map((p) => VARIABLE[p]).join(' or ')}`);
        }
      }
    }
  });

  it.each([
    ['distribution', presenting('bearer', `${CREDENTIALS.push.slice(0, -1)}0`), 'bad Bearer token'],
    ['distribution', presenting('bearer', `${CREDENTIALS.push}x`), 'bad Bearer token'],
    ['harbor', { headers: { authorization: `Basic ${CREDENTIALS.push}` }, query: {}, rawBody: BODY }, 'bad Bearer token'],
    ['harbor', { headers: { authorization: CREDENTIALS.push }, query: {}, rawBody: BODY }, 'bad Bearer token'],
    ['dockerhub', presenting('url-token', CREDENTIALS.dockerhub.slice(0, -1)), 'bad ?token= parameter'],
    ['dockerhub', presenting('url-token', CREDENTIALS.push), 'bad ?token= parameter'],
    ['dockerhub', presenting('url-token', CREDENTIALS.quay), 'bad ?token= parameter'],
    ['quay', presenting('url-token', CREDENTIALS.dockerhub), 'bad ?token= parameter'],
    ['dockerhub', presenting('bearer', CREDENTIALS.dockerhub), 'bad Bearer token'],
    ['config', presenting('bearer', CREDENTIALS.push), 'bad Bearer token'],
    ['config', presenting('bearer', CREDENTIALS.dockerhub), 'bad Bearer token'],
    ['config', presenting('url-token', CREDENTIALS.config), 'missing credentials: send a Bearer token'],
    ['control', presenting('bearer', CREDENTIALS.config), 'bad Bearer token'],
    ['status', presenting('bearer', CREDENTIALS.push), 'bad Bearer token'],
    ['ghcr', presenting('hub-signature', sign(BODY, OTHER), { raw: true }), 'bad X-Hub-Signature-256 signature'],
    ['ghcr', presenting('hub-signature', sign(BODY, CREDENTIALS.config), { raw: true }), 'bad X-Hub-Signature-256 signature'],
    ['ghcr', presenting('hub-signature', sign(BODY).replace('sha256=', 'sha1='), { raw: true }), 'bad X-Hub-Signature-256 signature'],
    ['ghcr', presenting('hub-signature', sign(Buffer.from('{}')), { raw: true }), 'bad X-Hub-Signature-256 signature'],
    ['generic', presenting('signature', sign(BODY).slice(0, -2), { raw: true }), 'bad X-Signature signature'],
    ['generic', presenting('signature', '', { raw: true }), 'bad X-Signature signature'],
    ['generic', { headers: { 'x-signature': 'x', authorization: 'Bearer nope' }, query: {}, rawBody: BODY }, 'bad Bearer token, X-Signature signature'],
    ['status', { headers: {}, query: {}, rawBody: BODY }, 'missing credentials: send a Bearer token'],
    ['control', { headers: {}, query: {}, rawBody: BODY }, 'missing credentials: send a Bearer token'],
    ['quay', { headers: {}, query: {}, rawBody: BODY }, 'missing credentials: send a Bearer token or ?token= parameter'],
    ['ghcr', { headers: {}, query: {}, rawBody: BODY }, 'missing credentials: send a Bearer token or X-Hub-Signature-256 signature'],
  ] as const)('refuses %s: %j (%s)', (route, request, message) => {
    const error = refusal(route, request, CREDENTIALS);
    expect(error.statusCode).toBe(401);
    expect(error.message).toBe(message);
    for (const value of Object.values(CREDENTIALS)) expect(error.message).not.toContain(value);
  });

  it('a URL token whose own credential is unset is refused and named, even on its route, while the push Bearer still works', () => {
    const { dockerhub: _d, ...withoutDockerhub } = CREDENTIALS;
    const error = refusal('dockerhub', presenting('url-token', CREDENTIALS.dockerhub), withoutDockerhub);
    expect(error.message).toBe('?token= parameter is not configured (KFM_DOCKERHUB_TOKEN): send a Bearer token');
    expect(() => authenticate('dockerhub', valid('dockerhub', 'bearer'), withoutDockerhub)).not.toThrow();
    expect(() => authenticate('quay', valid('quay', 'url-token'), withoutDockerhub)).not.toThrow();
  });

  it('signs the raw bytes: a signature over a re-serialised body is refused', () => {
    const reserialised = Buffer.from(JSON.stringify(JSON.parse(BODY.toString('utf8'))));
    expect(reserialised.equals(BODY)).toBe(false);
    const error = refusal('ghcr', presenting('hub-signature', sign(reserialised), { raw: true }), CREDENTIALS);
    expect(error.statusCode).toBe(401);
    expect(() => authenticate('ghcr', presenting('hub-signature', sign(BODY), { raw: true }), CREDENTIALS)).not.toThrow();
  });

  it('accepts upper-case hex and a case-insensitive Bearer scheme', () => {
    expect(() => authenticate('generic', presenting('signature', sign(BODY).toUpperCase(), { raw: true }), CREDENTIALS)).not.toThrow();
    const request = { headers: { authorization: `bearer ${CREDENTIALS.config}` }, query: {}, rawBody: BODY };
    expect(() => authenticate('config', request, CREDENTIALS)).not.toThrow();
    expect(() => authenticate('distribution', request, CREDENTIALS)).toThrow(HttpError);
  });

  it('accepts when one offered credential is valid even if another is wrong', () => {
    const request = { headers: { authorization: 'Bearer wrong', 'x-hub-signature-256': sign(BODY) }, query: {}, rawBody: BODY };
    expect(() => authenticate('ghcr', request, CREDENTIALS)).not.toThrow();
    const token = { headers: { authorization: `Bearer ${CREDENTIALS.config}` }, query: { token: CREDENTIALS.quay }, rawBody: BODY };
    expect(() => authenticate('quay', token, CREDENTIALS)).not.toThrow();
  });

  it('never echoes the secret or the presented value, even when they are long', () => {
    const credentials = { push: 'q'.repeat(300), dockerhub: 's'.repeat(300) };
    for (const request of [presenting('bearer', 'p'.repeat(300)), presenting('url-token', 'p'.repeat(300))]) {
      const error = refusal('dockerhub', request, credentials);
      expect(error.message).not.toContain('qqq');
      expect(error.message).not.toContain('sss');
      expect(error.message).not.toContain('ppp');
    }
  });

  it('authenticates the sample events as they are (signatures computed over their body strings, with events/local-credentials.json)', () => {
    const local = JSON.parse(readFileSync(new URL('../events/local-credentials.json', import.meta.url), 'utf8')) as Record<string, string>;
    const credentials: Credentials = Object.fromEntries(POWERS.map((p) => [p, local[VARIABLE[p]]]));
    for (const power of POWERS) expect(Buffer.byteLength(credentials[power] ?? '', 'utf8')).toBeGreaterThanOrEqual(32);
    const samples: Array<[AuthRoute, string]> = [...WEBHOOK_PROVIDERS.map((p) => [p, `push-${p}.json`] as [AuthRoute, string]), ['config', 'config.json'], ['status', 'status.json']];
    for (const [route, file] of samples) {
      const event = JSON.parse(readFileSync(new URL(`../events/${file}`, import.meta.url), 'utf8')) as {
        headers: Record<string, string>;
        queryStringParameters?: Record<string, string>;
        body?: string;
      };
      const request = { headers: event.headers, query: event.queryStringParameters ?? {}, rawBody: Buffer.from(event.body ?? '', 'utf8') };
      expect(() => authenticate(route, request, credentials)).not.toThrow();
      expect(() => authenticate(route, request, CREDENTIALS)).toThrow(HttpError);
      // Only its own power's credential lets the sample in: with that one replaced, it is refused.
      const own = [...new Set(Object.values(ACCEPTS[route]))];
      const without = { ...credentials, ...Object.fromEntries(own.map((p) => [p, OTHER])) };
      expect(() => authenticate(route, request, without)).toThrow(HttpError);
    }
  });
});
