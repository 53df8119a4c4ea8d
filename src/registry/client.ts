// Distribution HTTP API v2, the one call the deployer needs: HEAD a manifest to
// learn its digest. Auth: anonymous, Basic, or the Bearer token challenge.
// Credentials and tokens never appear in an error message.
import { FetchError } from '../errors.js';
import type { RegistryCredentials } from '../domain/types.js';
import { apiHost, DIGEST, isEcrHost, MANIFEST_TYPES, TAG, type ImageRef } from '../image/reference.js';

export { MANIFEST_TYPES } from '../image/reference.js';

/** Where the credentials for a host come from, for error messages: ECR's from IAM, others' from KFM_REGISTRY_AUTH. */
const credentialSource = (host: string): string =>
  isEcrHost(host) ? "the function's IAM role (ecr:GetAuthorizationToken, ecr:BatchGetImage)" : 'KFM_REGISTRY_AUTH';


export interface ManifestRef extends Pick<ImageRef, 'registry' | 'repository'> {
  /** A tag or a digest. */
  reference: string;
}
export interface ManifestHead {
  digest: string;
  mediaType: string;
}
export interface HeadManifestOptions {
  credentials?: RegistryCredentials;
  timeoutMs?: number;
}
export interface RegistryClient {
  /** Throws RegistryError (a FetchError). */
  headManifest(ref: ManifestRef, options?: HeadManifestOptions): Promise<ManifestHead>;
  /** Every tag of the repository; throws RegistryError. */
  listTags(ref: Pick<ImageRef, 'registry' | 'repository'>, options?: HeadManifestOptions): Promise<string[]>;
}
export interface RegistryClientOptions {
  /** Per HTTP request. */
  timeoutMs: number;
  /** When a token response has no `expires_in`. */
  tokenTtlSeconds: number;
  now: () => number;
  fetch: typeof fetch;
  /** Tags asked for per page of `tags/list`. */
  tagsPageSize: number;
}

const defaults: RegistryClientOptions = {
  timeoutMs: 5000,
  tokenTtlSeconds: 60,
  now: () => Date.now(),
  fetch: (...args) => fetch(...args), // resolved per call, so tests can replace the global
  tagsPageSize: 1000,
};
/** Distribution notifies our own lookups as `pull` events; this names them in `request.useragent`. */
export const USER_AGENT = 'kubeflow-metadata-deployer';
const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]']);
/** Docker Hub's registry sends its users to this documented token host. */
const TRUSTED_REALMS: Record<string, string> = { 'registry-1.docker.io': 'auth.docker.io' };

/** A FetchError that says whether trying again may help (404 right after a push, 5xx, network). */
export class RegistryError extends FetchError {
  readonly status?: number;
  readonly retryable: boolean;
  constructor(message: string, options: { status?: number; retryable?: boolean; cause?: unknown } = {}) {
    super(message, { cause: options.cause });
    this.name = 'RegistryError';
    this.status = options.status;
    this.retryable = options.retryable ?? false;
  }
}

function hostnameOf(host: string): string {
  return new URL(`http://${host}`).hostname.toLowerCase();
}

/** Plain http only on loopback, so tests can run a local registry and nothing else can downgrade. */
export function baseUrl(host: string): string {
  return `${LOOPBACK.has(hostnameOf(host)) ? 'http' : 'https'}://${host}`;
}

/** A realm gets Basic credentials only on the registry's own host (or Docker Hub's token host). */
export function realmMayReceiveCredentials(registryHost: string, realm: URL): boolean {
  const registry = hostnameOf(registryHost);
  const realmHost = realm.hostname.toLowerCase();
  return realmHost === registry || TRUSTED_REALMS[registry] === realmHost;
}

/** `Bearer realm="…",service="…",scope="…"` → its parameters; undefined for other schemes. */
export function parseBearerChallenge(header: string | null): Record<string, string> | undefined {
  const start = header?.search(/(^|[\s,])Bearer\s/i) ?? -1;
  if (!header || start < 0) return undefined;
  const params: Record<string, string> = {};
  const param = /\s*,?\s*([A-Za-z_][\w-]*)=("((?:[^"\\]|\\.)*)"|[^\s,"]*)/y;
  param.lastIndex = header.indexOf('Bearer', start) + 'Bearer'.length;
  for (let match = param.exec(header); match; match = param.exec(header)) {
    const [, key = '', raw = '', quoted] = match;
    params[key.toLowerCase()] = quoted === undefined ? raw : quoted.replace(/\\(.)/g, '$1');
  }
  return params.realm ? params : undefined;
}

/** A bound, so a registry that keeps sending `next` cannot hold the step forever. */
const MAX_TAG_PAGES = 50;

/** The `rel="next"` URL of a Link header, resolved against the registry; undefined when absent or on another host. */
export function nextPage(link: string | null, base: string): string | undefined {
  const match = link ? /<([^>]+)>\s*;\s*rel="?next"?/i.exec(link) : null;
  if (!match?.[1]) return undefined;
  const url = new URL(match[1], base);
  return url.origin === new URL(base).origin ? url.toString() : undefined;
}

function basic(credentials: RegistryCredentials): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

export function createRegistryClient(opts: Partial<RegistryClientOptions> = {}): RegistryClient {
  const options = { ...defaults, ...opts };
  const tokens = new Map<string, { token: string; expiresAt: number }>();

  /** One request; network failures and timeouts become retryable RegistryErrors naming `what`. */
  async function send(url: string | URL, init: { method: string; headers: Record<string, string> }, what: string, timeoutMs: number) {
    try {
      const headers = { 'user-agent': USER_AGENT, ...init.headers };
      return await options.fetch(url, { ...init, headers, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      const err = error as Error & { cause?: { code?: string } };
      const reason = err.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err.cause?.code ?? err.message);
      throw new RegistryError(`${what} unreachable: ${reason}`, { retryable: true, cause: error });
    }
  }

  function tokenKey(host: string, scope: string, credentials?: RegistryCredentials): string {
    return `${host}\n${scope}\n${credentials?.username ?? ''}`;
  }

  function cachedToken(key: string): string | undefined {
    const entry = tokens.get(key);
    if (entry && options.now() < entry.expiresAt) return entry.token;
    tokens.delete(key);
    return undefined;
  }

  function checkedRealm(host: string, realm: string): URL {
    let url: URL | undefined;
    try {
      url = new URL(realm);
    } catch {}
    const loopback = LOOPBACK.has(hostnameOf(host)) && LOOPBACK.has(url?.hostname ?? '');
    if (url?.protocol === 'https:' || (url?.protocol === 'http:' && loopback)) return url;
    throw new RegistryError(`registry ${host} sent a token realm that is not https; refusing to use it`);
  }

  /** The token challenge: GET the realm with service and scope, Basic only where it is safe. */
  async function bearerToken(
    host: string,
    challenge: Record<string, string>,
    credentials: RegistryCredentials | undefined,
    timeoutMs: number,
  ): Promise<string> {
    const key = tokenKey(host, challenge.scope ?? '', credentials);
    const cached = cachedToken(key);
    if (cached) return cached;
    const realm = checkedRealm(host, challenge.realm ?? '');
    if (challenge.service) realm.searchParams.set('service', challenge.service);
    if (challenge.scope) realm.searchParams.set('scope', challenge.scope);
    const withCredentials = credentials !== undefined && realmMayReceiveCredentials(host, realm);
    const headers: Record<string, string> = withCredentials ? { authorization: basic(credentials) } : {};
    const response = await send(realm, { method: 'GET', headers }, `token service ${realm.host}`, timeoutMs);
    const body = (await response.json().catch(() => undefined)) as Record<string, unknown> | undefined;
    if (!response.ok) {
      const who = withCredentials ? 'the credentials' : 'anonymous access';
      const hint = response.status === 401 || response.status === 403 ? `: check ${credentialSource(host)}` : '';
      const retryable = response.status >= 500 || response.status === 429;
      const message = `token service ${realm.host} refused ${who} for ${host} (${response.status})${hint}`;
      throw new RegistryError(message, { status: response.status, retryable });
    }
    const token = body?.token ?? body?.access_token;
    if (typeof token !== 'string' || token === '') {
      throw new RegistryError(`token service ${realm.host} answered without a token`);
    }
    const expiresIn = body?.expires_in;
    const ttl = typeof expiresIn === 'number' && expiresIn > 0 ? expiresIn : options.tokenTtlSeconds;
    tokens.set(key, { token, expiresAt: options.now() + ttl * 1000 });
    return token;
  }

  /** A failed answer, with what the user can do about it. */
  function failure(status: number, host: string, name: string, sentCredentials: boolean): RegistryError {
    const at = `registry ${host}`;
    const retryable = status === 404 || status === 429 || status >= 500;
    let message = `${at} answered ${status} for ${name}`;
    if (status === 401 && sentCredentials) message = `${at} answered 401 for ${name}: check ${credentialSource(host)}`;
    else if (status === 401) message = `${at} requires credentials for ${name} (401): set them in ${credentialSource(host)}`;
    else if (status === 403) message = `${at} denied access to ${name} (403): check ${credentialSource(host)} and the pull permission`;
    else if (status === 404) message = `manifest ${name} not found in registry ${host}`;
    else if (status >= 300 && status < 400) message = `${at} redirected the lookup of ${name} (${status}): not followed`;
    return new RegistryError(message, { status, retryable });
  }

  /** One authorized request: a cached token for the repository, else Basic (or nothing), then the Bearer challenge. */
  async function authorized(url: string, method: 'HEAD' | 'GET', accept: string, repository: string, request: HeadManifestOptions) {
    const { credentials, timeoutMs = options.timeoutMs } = request;
    const host = new URL(url).host;
    const call = (authorization?: string) =>
      send(url, { method, headers: { accept, ...(authorization && { authorization }) } }, `registry ${host}`, timeoutMs);
    const predicted = tokenKey(host, `repository:${repository}:pull`, credentials);
    const token = cachedToken(predicted);
    let response = await call(token ? `Bearer ${token}` : credentials && basic(credentials));
    const challenge = response.status === 401 ? parseBearerChallenge(response.headers.get('www-authenticate')) : undefined;
    if (challenge) {
      if (token) tokens.delete(predicted); // the registry no longer accepts it
      response = await call(`Bearer ${await bearerToken(host, challenge, credentials, timeoutMs)}`);
    }
    return response;
  }

  async function headManifest(ref: ManifestRef, request: HeadManifestOptions = {}): Promise<ManifestHead> {
    const host = apiHost(ref.registry);
    const byDigest = DIGEST.test(ref.reference);
    // The reference goes into the URL path: only a tag or a sha256 digest may.
    if (!byDigest && !TAG.test(ref.reference)) {
      throw new RegistryError(`"${ref.reference}" is neither a tag nor a sha256 digest`);
    }
    const name = `${ref.repository}${byDigest ? '@' : ':'}${ref.reference}`;
    const url = `${baseUrl(host)}/v2/${ref.repository}/manifests/${ref.reference}`;
    const response = await authorized(url, 'HEAD', MANIFEST_TYPES.join(', '), ref.repository, request);
    if (!response.ok) throw failure(response.status, host, name, request.credentials !== undefined);
    const digest = response.headers.get('docker-content-digest') ?? '';
    if (!DIGEST.test(digest)) {
      throw new RegistryError(`registry ${host} sent no valid Docker-Content-Digest for ${name}`);
    }
    const mediaType = (response.headers.get('content-type') ?? '').split(';')[0]?.trim() ?? '';
    return { digest, mediaType };
  }

  /**
   * Every tag of a repository (`GET /v2/<repo>/tags/list`), page by page as the `Link: <…>; rel="next"`
   * header says; a next page on another host is not followed. Invalid tags are dropped, not trusted.
   */
  async function listTags(ref: Pick<ImageRef, 'registry' | 'repository'>, request: HeadManifestOptions = {}): Promise<string[]> {
    const host = apiHost(ref.registry);
    const base = baseUrl(host);
    const tags: string[] = [];
    let next: string | undefined = `${base}/v2/${ref.repository}/tags/list?n=${options.tagsPageSize}`;
    for (let page = 0; next !== undefined && page < MAX_TAG_PAGES; page++) {
      const response = await authorized(next, 'GET', 'application/json', ref.repository, request);
      if (!response.ok) throw failure(response.status, host, `${ref.repository} (tags)`, request.credentials !== undefined);
      const body = (await response.json().catch(() => undefined)) as { tags?: unknown } | undefined;
      if (Array.isArray(body?.tags)) tags.push(...body.tags.filter((tag): tag is string => typeof tag === 'string' && TAG.test(tag)));
      next = nextPage(response.headers.get('link'), base);
    }
    return tags;
  }

  return { headManifest, listTags };
}

/** A process-wide client, so tokens are shared by every lookup of a warm function. */
export const registryClient: RegistryClient = createRegistryClient();
