// Webhook authentication, shared by every HTTP route. Fails closed without a
// secret. Every route takes `Authorization: Bearer <secret>`; a route also takes
// the one extra scheme its source can do (GitHub signs, Docker Hub and Quay can
// only put a secret in the URL). All comparisons are constant-time.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { unauthorized } from '../errors.js';
import type { WebhookProvider } from '../registry/payloads/index.js';

export type AuthScheme = 'bearer' | 'hub-signature' | 'signature' | 'url-token';
export type AuthRoute = WebhookProvider | 'config' | 'status';

export interface AuthRequest {
  headers: Record<string, string | undefined>; // lower-cased names
  query: Record<string, string | undefined>;
  rawBody: Buffer;
}

const EXTRA = new Map<AuthRoute, AuthScheme>([
  ['ghcr', 'hub-signature'],
  ['generic', 'signature'],
  ['dockerhub', 'url-token'],
  ['quay', 'url-token'],
]);

// What a 401 says: the scheme, never the secret or the value presented.
const NAME: Record<AuthScheme, string> = {
  bearer: 'Bearer token',
  'hub-signature': 'X-Hub-Signature-256 signature',
  signature: 'X-Signature signature',
  'url-token': '?token= parameter',
};

export function schemesFor(route: AuthRoute): readonly AuthScheme[] {
  const extra = EXTRA.get(route);
  return extra === undefined ? ['bearer'] : ['bearer', extra];
}

/** Throws 401 unless the request carries a valid credential for one of the route's schemes. */
export function authenticate(route: AuthRoute, request: AuthRequest, secret: string | undefined): void {
  if (secret === undefined || secret === '') {
    throw unauthorized('webhook authentication is not configured: set KFM_WEBHOOK_SECRET');
  }
  const key = secret;

  // Hashing both sides first makes the lengths equal, so nothing leaks and nothing throws.
  function sameSecret(presented: string, expected: string): boolean {
    const digest = (text: string) => createHash('sha256').update(text, 'utf8').digest();
    return timingSafeEqual(digest(presented), digest(expected));
  }

  // Over the bytes as received: a re-serialised body would not be what the sender signed.
  function signatureOf(body: Buffer): string {
    return `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
  }

  /** The credential the request presents for a scheme, if any (a non-Bearer Authorization counts, as wrong). */
  function presented(scheme: AuthScheme): string | undefined {
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

  function valid(scheme: AuthScheme, value: string): boolean {
    const signed = scheme === 'hub-signature' || scheme === 'signature';
    return sameSecret(value, signed ? signatureOf(request.rawBody) : key);
  }

  const offered = schemesFor(route).filter((scheme) => presented(scheme) !== undefined);
  // Every offered credential is checked (no early exit): timing does not say which one matched.
  const results = offered.map((scheme) => valid(scheme, presented(scheme) ?? ''));
  if (results.includes(true)) return;
  if (offered.length > 0) throw unauthorized(`bad ${offered.map((scheme) => NAME[scheme]).join(', ')}`);
  throw unauthorized(`missing credentials: send a ${schemesFor(route).map((scheme) => NAME[scheme]).join(' or ')}`);
}
