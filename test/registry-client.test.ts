// The registry client and fetcher against a REAL CNCF distribution registry
// (Debian `docker-registry`, htpasswd auth), plus a loopback double for the
// Bearer token flow, which that registry cannot serve without a token server.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { BogusEventError, FetchError } from '../src/errors.js';
import { parseImageRef, type ImageRef } from '../src/image/reference.js';
import {
  createRegistryClient,
  parseBearerChallenge,
  realmMayReceiveCredentials,
  RegistryError,
  type RegistryClient,
} from '../src/registry/client.js';
import { createRegistryFetcher } from '../src/resource/registry-fetcher.js';
import type { CredentialProvider } from '../src/resource/port.js';
import { freePort, pushImage, startRegistry, type TestRegistry } from './support/registry.js';

const REPO = 'kubeflow/metadata';
const OCI = 'application/vnd.oci.image.manifest.v1+json';
const DOCKER = 'application/vnd.docker.distribution.manifest.v2+json';
const FORGED = `sha256:${'ab'.repeat(32)}`;
const fast = { initialDelayMs: 10, maxDelayMs: 40, maxTotalMs: 1000 };

/** The error a promise rejects with; fails the test when it resolves. */
const failure = (promise: Promise<unknown>): Promise<Error> =>
  promise.then(() => Promise.reject(new Error('expected a failure')), (error: unknown) => error as Error);

describe('registry client and fetcher against a real distribution registry', () => {
  let registry: TestRegistry;
  let image: ImageRef;
  const client = createRegistryClient();
  const provider = (): CredentialProvider => ({ credentialsFor: async () => registry.auth });
  const ref = (reference: string) => ({ registry: registry.host, repository: REPO, reference });

  beforeAll(async () => {
    registry = await startRegistry();
    image = parseImageRef(`${registry.host}/${REPO}:v1`);
  });
  afterAll(() => registry?.stop());

  it.each([
    ['oci', OCI],
    ['docker', DOCKER],
  ] as const)('resolves a %s manifest by tag and by digest', async (mediaType, contentType) => {
    const tag = `${mediaType}-1`;
    const pushed = await pushImage(registry, { repository: REPO, tag, mediaType });
    const expected = { digest: pushed, mediaType: contentType };
    await expect(client.headManifest(ref(tag), { credentials: registry.auth })).resolves.toEqual(expected);
    await expect(client.headManifest(ref(pushed), { credentials: registry.auth })).resolves.toEqual(expected);
  });

  it('names the auth problem for a wrong password, without the password', async () => {
    await pushImage(registry, { repository: REPO, tag: 'v1', mediaType: 'oci' });
    const password = 'not-the-password-1234';
    const error = await failure(client.headManifest(ref('v1'), { credentials: { username: 'kfm', password } }));
    expect(error).toBeInstanceOf(FetchError);
    expect(error.message).toBe(`registry ${registry.host} answered 401 for ${REPO}:v1: check KFM_REGISTRY_AUTH`);
    expect(error.message).not.toContain(password);
    const anonymous = await failure(client.headManifest(ref('v1')));
    expect(anonymous.message).toMatch(/requires credentials .*KFM_REGISTRY_AUTH/);
  });

  it('fails an unknown tag after the bounded retries', async () => {
    let heads = 0;
    const counting: RegistryClient = { listTags: client.listTags, headManifest: (r, o) => (heads++, client.headManifest(r, o)) };
    const fetcher = createRegistryFetcher({ credentials: provider(), client: counting, retry: fast });
    const error = await failure(fetcher.fetch({ image, tag: 'never-pushed' }));
    expect(error).toBeInstanceOf(FetchError);
    expect(error.message).toBe(`manifest ${REPO}:never-pushed not found in registry ${registry.host}`);
    expect(heads).toBe(5);
  });

  it('bounds the default retries: 5 attempts, 200 ms → 1.6 s backoff, ≤ 4 s', async () => {
    const delays: number[] = [];
    const sleep = async (ms: number) => void delays.push(ms);
    const fetcher = createRegistryFetcher({ credentials: provider(), retry: { sleep } });
    await failure(fetcher.fetch({ image, tag: 'never-pushed' }));
    expect(delays).toEqual([200, 400, 800, 1600]);
  });

  it('refuses a forged digest and an event digest that is not a digest: a bogus event, not a fetch failure', async () => {
    const fetcher = createRegistryFetcher({ credentials: provider(), retry: fast });
    const forged = await failure(fetcher.fetch({ image, tag: 'v1', digest: FORGED }));
    // A 404 for a digest: the event is bogus or stale (issue 12 §7), ignored rather than a failure that blocks.
    expect(forged).toBeInstanceOf(BogusEventError);
    expect(forged).not.toBeInstanceOf(FetchError);
    expect(forged.message).toBe(`the registry has no manifest ${FORGED}`);
    const garbage = await failure(fetcher.fetch({ image, digest: 'sha256:../../v1' }));
    expect(garbage).toBeInstanceOf(BogusEventError);
    expect(garbage.message).toBe('the event\'s digest "sha256:../../v1" is not a sha256 digest');
  });

  it('verifies an event digest and pins it, with the credentials to pull it', async () => {
    const digest = await pushImage(registry, { repository: REPO, mediaType: 'docker' }); // by digest, no tag
    const fetcher = createRegistryFetcher({ credentials: provider() });
    const info = await fetcher.fetch({ image, digest, pushedAt: '2026-01-01T00:00:00Z' });
    const registryPath = `${registry.host}/${REPO}@${digest}`;
    expect(info).toEqual({ registryPath, digest, tag: undefined, pushedAt: '2026-01-01T00:00:00Z', credentials: registry.auth });
  });

  it('finds a tag pushed 300 ms after the lookup started', async () => {
    const fetcher = createRegistryFetcher({ credentials: provider() });
    const lookup = fetcher.fetch({ image, tag: 'late' });
    const pushed = new Promise<string>((resolve, reject) =>
      setTimeout(() => pushImage(registry, { repository: REPO, tag: 'late', mediaType: 'oci' }).then(resolve, reject), 300),
    );
    const [info, digest] = await Promise.all([lookup, pushed]);
    expect(info.digest).toBe(digest);
    expect(info.tag).toBe('late');
    expect(info.registryPath).toBe(`${registry.host}/${REPO}@${digest}`);
  });
});

describe('registry fetcher rules (scripted client)', () => {
  const image = parseImageRef('registry.example/kubeflow/metadata:v1');
  /** Answers each lookup with the next script entry (the last one repeats), recording what was asked. */
  function scripted(...script: Array<string | RegistryError>) {
    const asked: string[] = [];
    const client: RegistryClient = {
      listTags: async () => [],
      headManifest: async (r) => {
        asked.push(`${r.registry} ${r.reference}`);
        const next = (script.length > 1 ? script.shift() : script[0]) as string | RegistryError;
        return typeof next === 'string' ? { digest: next, mediaType: OCI } : Promise.reject(next);
      },
    };
    const hosts: string[] = [];
    const credentials: CredentialProvider = { credentialsFor: async (host) => void hosts.push(host) };
    return { asked, hosts, fetcher: createRegistryFetcher({ credentials, client, retry: fast }) };
  }

  it('asks credentials for the registry of KFM_IMAGE and resolves its tag by default', async () => {
    const { asked, hosts, fetcher } = scripted(FORGED);
    const info = await fetcher.fetch({ image });
    expect(hosts).toEqual(['registry.example']);
    expect(asked).toEqual(['registry.example v1']);
    expect(info).toMatchObject({ digest: FORGED, tag: 'v1', registryPath: `registry.example/kubeflow/metadata@${FORGED}` });
  });

  it('refuses a digest the registry serves under another digest', async () => {
    const error = await failure(scripted(`sha256:${'cd'.repeat(32)}`).fetcher.fetch({ image, digest: FORGED }));
    expect(error).toBeInstanceOf(BogusEventError);
    expect(error.message).toBe(`the registry has no manifest ${FORGED}`);
  });

  it('retries 5xx and network errors, not auth failures', async () => {
    const transient = (status?: number) => new RegistryError(`${status}`, { status, retryable: true });
    const flaky = scripted(transient(503), transient(), FORGED);
    await expect(flaky.fetcher.fetch({ image })).resolves.toMatchObject({ digest: FORGED });
    expect(flaky.asked).toHaveLength(3);
    const denied = scripted(new RegistryError('401', { status: 401 }));
    await failure(denied.fetcher.fetch({ image }));
    expect(denied.asked).toHaveLength(1);
  });
});

/**
 * A loopback double of a token-auth registry and its token service. It models
 * the 401 challenge, the token GET (service, scope, Basic) and Bearer checks;
 * it does not model JWT contents, refresh tokens, OAuth2 POST, push scopes, or
 * TLS (hence loopback, where http is allowed).
 */
type Seen = { path: string; host?: string; authorization?: string };
function listen(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer(handler);
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}
const portOf = (server: Server) => (server.address() as AddressInfo).port;
const closeServer = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

describe('Bearer token challenge (loopback double)', () => {
  const credentials = { username: 'robot', password: 's3cret-registry-password' };
  const basic = `Basic ${Buffer.from('robot:s3cret-registry-password').toString('base64')}`;
  let realm = '';
  let tokenBody: Record<string, unknown> = {};
  let valid = new Set<string>();
  const seen: Seen[] = [];
  const servers: Server[] = [];
  const tokenRequests = () => seen.filter((s) => /^\/(token|refuse)/.test(s.path));

  function serve(req: IncomingMessage, res: ServerResponse) {
    const { path = '', host, authorization } = { path: req.url, ...req.headers };
    seen.push({ path, host, authorization });
    if (path.startsWith('/refuse')) return void res.writeHead(401).end('{"errors":[]}');
    if (path.startsWith('/token')) {
      const token = `token-${seen.length}`;
      valid.add(token);
      const field = tokenBody.access_token ? 'access_token' : 'token';
      return void res.writeHead(200).end(JSON.stringify({ ...tokenBody, [field]: token }));
    }
    if (valid.has(authorization?.replace(/^Bearer /, '') ?? '')) {
      return void res.writeHead(200, { 'docker-content-digest': FORGED, 'content-type': OCI }).end();
    }
    const challenge = `Bearer realm="${realm}",service="double",scope="repository:${REPO}:pull"`;
    res.writeHead(401, { 'www-authenticate': challenge }).end();
  }

  beforeAll(async () => void servers.push(await listen(serve), await listen(serve)));
  afterAll(() => Promise.all(servers.map(closeServer)));
  beforeEach(() => {
    seen.length = 0;
    valid = new Set();
    tokenBody = { expires_in: 300 };
  });

  const host = () => `127.0.0.1:${portOf(servers[0] as Server)}`;
  const lookup = (client: RegistryClient) =>
    client.headManifest({ registry: host(), repository: REPO, reference: 'v1' }, { credentials });

  it('gets a token from a realm on the registry host with Basic credentials, and caches it', async () => {
    realm = `http://${host()}/token`;
    const client = createRegistryClient();
    await expect(lookup(client)).resolves.toEqual({ digest: FORGED, mediaType: OCI });
    await lookup(client);
    const path = `/token?service=double&scope=${encodeURIComponent(`repository:${REPO}:pull`)}`;
    expect(tokenRequests()).toEqual([{ path, host: host(), authorization: basic }]);
    expect(seen.map((s) => s.authorization)).toEqual([basic, basic, 'Bearer token-2', 'Bearer token-2']);
  });

  it('never sends the credentials to a realm on another host', async () => {
    const other = `localhost:${portOf(servers[1] as Server)}`;
    realm = `http://${other}/token`;
    tokenBody = { access_token: 'yes' }; // the OAuth2 spelling, no expires_in
    await expect(lookup(createRegistryClient())).resolves.toMatchObject({ digest: FORGED });
    expect(tokenRequests()).toEqual([{ path: expect.stringMatching(/^\/token\?/), host: other, authorization: undefined }]);
  });

  it('renews a token after its expires_in (default 60 s)', async () => {
    realm = `http://${host()}/token`;
    tokenBody = {};
    let now = 1_000_000;
    const client = createRegistryClient({ now: () => now });
    await lookup(client);
    now += 59_000;
    await lookup(client);
    now += 2_000;
    await lookup(client);
    expect(tokenRequests()).toHaveLength(2);
  });

  it('asks again once when the registry stops accepting a cached token', async () => {
    realm = `http://${host()}/token`;
    const client = createRegistryClient();
    await lookup(client);
    valid.clear(); // revoked server-side
    await expect(lookup(client)).resolves.toMatchObject({ digest: FORGED });
    expect(tokenRequests()).toHaveLength(2);
  });

  it('reports a refused token request without the password', async () => {
    realm = `http://${host()}/refuse`;
    const error = await failure(lookup(createRegistryClient()));
    expect(error).toBeInstanceOf(FetchError);
    const expected = `token service ${host()} refused the credentials for ${host()} (401): check KFM_REGISTRY_AUTH`;
    expect(error.message).toBe(expected);
    expect(error.message).not.toContain(credentials.password);
  });

  it('refuses a plain-http realm off loopback, before sending anything to it', async () => {
    realm = 'http://tokens.example/token';
    const error = await failure(lookup(createRegistryClient()));
    expect(error.message).toMatch(/token realm that is not https/);
    expect(tokenRequests()).toEqual([]);
  });

  it('decides where credentials may go and parses challenges', () => {
    const may = (registry: string, url: string) => realmMayReceiveCredentials(registry, new URL(url));
    expect(may('registry-1.docker.io', 'https://auth.docker.io/token')).toBe(true);
    expect(may('ghcr.io', 'https://ghcr.io/token')).toBe(true);
    expect(may('registry.example:5000', 'https://Registry.Example/auth')).toBe(true);
    expect(may('ghcr.io', 'https://auth.docker.io/token')).toBe(false);
    expect(may('registry.example', 'https://registry.example.evil.test/t')).toBe(false);
    const challenge = 'Bearer realm="https://a/t",service="s",scope="repository:x:pull,push"';
    expect(parseBearerChallenge(challenge)).toEqual({ realm: 'https://a/t', service: 's', scope: 'repository:x:pull,push' });
    expect(parseBearerChallenge('Basic realm="x"')).toBeUndefined();
  });
});

describe('network failures', () => {
  const client = createRegistryClient({ timeoutMs: 150 });
  const head = (port: number) => client.headManifest({ registry: `127.0.0.1:${port}`, repository: REPO, reference: 'v1' });

  it('names an unreachable registry and a silent one', async () => {
    const port = await freePort();
    const refused = await failure(head(port));
    expect(refused).toBeInstanceOf(RegistryError);
    expect(refused.message).toBe(`registry 127.0.0.1:${port} unreachable: ECONNREFUSED`);
    const silent = await listen(() => undefined);
    try {
      const slow = await failure(head(portOf(silent)));
      expect(slow.message).toBe(`registry 127.0.0.1:${portOf(silent)} unreachable: no answer within 150 ms`);
    } finally {
      silent.closeAllConnections();
      await closeServer(silent);
    }
  });
});
