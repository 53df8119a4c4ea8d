// Authentication of every HTTP route, one credential per power (DESIGN §5), so that what can push
// cannot reconfigure: the push routes take KFM_WEBHOOK_SECRET (Bearer, or the HMAC GitHub and the
// generic format sign with); Docker Hub and Quay, which can only put a secret in their URL, take
// each their own `?token=` on their own route only (a URL is logged and shared far more than a
// header); config, control and status each take their own Bearer. An unset credential closes the
// schemes that use it; a route with none left is closed. All comparisons are constant-time.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { unauthorized } from '../errors.js';
import type { WebhookProvider } from '../registry/payloads/index.js';
import { CREDENTIAL_VARIABLES, type Credentials } from '../settings/settings.js';

export type AuthScheme = 'bearer' | 'hub-signature' | 'signature' | 'url-token';
export type AuthRoute = WebhookProvider | 'config' | 'control' | 'status';
export type Power = keyof Credentials;

export interface AuthRequest {
  headers: Record<string, string | undefined>; // lower-cased names
  query: Record<string, string | undefined>;
  rawBody: Buffer;
}

/** Each route's schemes, and the credential each one checks. */
const SCHEMES: Partial<Record<AuthRoute, ReadonlyArray<readonly [AuthScheme, Power]>>> = {
  ghcr: [['bearer', 'push'], ['hub-signature', 'push']],
  generic: [['bearer', 'push'], ['signature', 'push']],
  dockerhub: [['bearer', 'push'], ['url-token', 'dockerhub']],
  quay: [['bearer', 'push'], ['url-token', 'quay']],
  config: [['bearer', 'config']],
  control: [['bearer', 'control']],
  status: [['bearer', 'status']],
};
const PUSH: ReadonlyArray<readonly [AuthScheme, Power]> = [['bearer', 'push']];
const schemesOf = (route: AuthRoute) => SCHEMES[route] ?? PUSH;

// What a 401 says: the scheme, never the secret or the value presented.
const NAME: Record<AuthScheme, string> = {
  bearer: 'Bearer token',
  'hub-signature': 'X-Hub-Signature-256 signature',
  signature: 'X-Signature signature',
  'url-token': '?token= parameter',
};

export function schemesFor(route: AuthRoute): readonly AuthScheme[] {
  return schemesOf(route).map(([scheme]) => scheme);
}

/** The credential (its power) a scheme checks on a route; undefined when the route does not take it. */
export function powerFor(route: AuthRoute, scheme: AuthScheme): Power | undefined {
  return schemesOf(route).find(([s]) => s === scheme)?.[1];
}

// Hashing both sides first makes the lengths equal, so nothing leaks and nothing throws.
function same(presented: string, expected: string): boolean {
  const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/** The credential the request presents for a scheme, if any (a non-Bearer Authorization counts, as wrong). */
function presented(request: AuthRequest, scheme: AuthScheme): string | undefined {
  const { headers, query } = request;
  switch (scheme) {
    case 'bearer':
      return headers['authorization'] === undefined ? undefined : (/^Bearer +(.+)$/i.exec(headers['authorization'])?.[1] ?? '');
    case 'hub-signature':
      return headers['x-hub-signature-256']?.toLowerCase();
    case 'signature':
      return headers['x-signature']?.toLowerCase();
    case 'url-token':
      return query['token'];
  }
}

/** Throws 401 unless the request carries a valid credential for one of the route's open schemes. */
export function authenticate(route: AuthRoute, request: AuthRequest, credentials: Credentials): void {
  const keyOf = (power: Power) => (credentials[power] ? credentials[power] : undefined);
  const open = schemesOf(route).filter(([, power]) => keyOf(power) !== undefined);
  if (open.length === 0) {
    const names = [...new Set(schemesOf(route).map(([, power]) => CREDENTIAL_VARIABLES[power]))];
    throw unauthorized(`authentication is not configured for this route: set ${names.join(' or ')}`);
  }

  function valid(scheme: AuthScheme, power: Power, value: string): boolean {
    const key = keyOf(power)!;
    // Over the bytes as received: a re-serialised body would not be what the sender signed.
    const expected = scheme === 'hub-signature' || scheme === 'signature' ? `sha256=${createHmac('sha256', key).update(request.rawBody).digest('hex')}` : key;
    return same(value, expected);
  }

  const offered = open.filter(([scheme]) => presented(request, scheme) !== undefined);
  // Every offered credential is checked (no early exit): timing does not say which one matched.
  const results = offered.map(([scheme, power]) => valid(scheme, power, presented(request, scheme) ?? ''));
  if (results.includes(true)) return;
  if (offered.length > 0) throw unauthorized(`bad ${offered.map(([scheme]) => NAME[scheme]).join(', ')}`);
  // A scheme whose credential is unset is refused as if absent, but named, so the sender learns why.
  const closed = schemesOf(route).filter(([scheme, power]) => keyOf(power) === undefined && presented(request, scheme) !== undefined);
  if (closed.length > 0) {
    throw unauthorized(`${closed.map(([scheme, power]) => `${NAME[scheme]} is not configured (${CREDENTIAL_VARIABLES[power]})`).join(', ')}: send a ${open.map(([scheme]) => NAME[scheme]).join(' or ')}`);
  }
  throw unauthorized(`missing credentials: send a ${open.map(([scheme]) => NAME[scheme]).join(' or ')}`);
}
