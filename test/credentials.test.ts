// Credential providers: ECR tokens (GetAuthorizationToken mocked with
// aws-sdk-client-mock; renewal against a fixed clock: a token handed out must
// outlive the next scheduled refresh), static KFM_REGISTRY_AUTH entries, and the chain.
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import { FetchError } from '../src/errors.js';
import { createCredentialProvider } from '../src/resource/credentials/chain.js';
import { createEcrCredentials, isEcrHost, renewBeforeMs } from '../src/resource/credentials/ecr.js';
import { loadSettings } from '../src/settings/settings.js';
import { createStaticCredentials } from '../src/resource/credentials/static.js';

const ECR = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const HOUR = 3600_000;
const ecr = mockClient(ECRClient);

function tokenAnswer(password: string, expiresAt: Date) {
  const authorizationToken = Buffer.from(`AWS:${password}`).toString('base64');
  return { authorizationData: [{ authorizationToken, expiresAt, proxyEndpoint: `https://${ECR}` }] };
}

describe('ECR credentials', () => {
  beforeEach(() => ecr.reset());

  it('serves 1000 concurrent lookups with ONE GetAuthorizationToken call, decoded', async () => {
    ecr.on(GetAuthorizationTokenCommand).resolves(tokenAnswer('ecr-password-1', new Date(Date.now() + 12 * HOUR)));
    const provider = createEcrCredentials(); // the default factory: the real, lazily imported ECRClient
    const all = await Promise.all(Array.from({ length: 1000 }, () => provider.credentialsFor(ECR)));
    expect(ecr.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(1);
    expect(new Set(all.map((c) => `${c?.username}:${c?.password}`))).toEqual(new Set(['AWS:ecr-password-1']));
    await provider.credentialsFor(ECR.toUpperCase());
    expect(ecr.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(1);
  });

  it('renews a token once less than the refresh interval plus 30 minutes remains (fixed clock, default 6 h)', async () => {
    let now = Date.parse('2026-01-01T00:00:00Z');
    ecr
      .on(GetAuthorizationTokenCommand)
      .resolvesOnce(tokenAnswer('first', new Date(now + 12 * HOUR)))
      .resolvesOnce(tokenAnswer('second', new Date(now + 24 * HOUR)));
    const regions: string[] = [];
    const createClient = (region: string) => (regions.push(region), new ECRClient({ region }));
    const provider = createEcrCredentials({ now: () => now, createClient });
    expect((await provider.credentialsFor(ECR))?.password).toBe('first');
    now += 5.5 * HOUR - 60_000; // 6 h 31 min left: it outlives the next refresh (6 h) and the margin
    expect((await provider.credentialsFor(ECR))?.password).toBe('first');
    now += 2 * 60_000; // 6 h 29 min left: a Secret written now could expire before the refresh after next
    expect((await provider.credentialsFor(ECR))?.password).toBe('second');
    expect(ecr.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(2);
    expect(regions).toEqual(['eu-west-1']);
  });

  it('takes the interval from settings: KFM_REFRESH_HOURS=1 keeps a token until 1 h 30 min remain', async () => {
    const settings = loadSettings({ KFM_REFRESH_HOURS: '1' });
    expect(settings.refreshHours).toBe(1);
    expect(renewBeforeMs(settings.refreshHours)).toBe(1.5 * HOUR);
    let now = Date.parse('2026-01-01T00:00:00Z');
    ecr.on(GetAuthorizationTokenCommand).resolvesOnce(tokenAnswer('first', new Date(now + 12 * HOUR))).resolves(tokenAnswer('second', new Date(now + 24 * HOUR)));
    const provider = createEcrCredentials({ now: () => now, refreshHours: settings.refreshHours });
    now += 10.5 * HOUR - 60_000;
    expect((await provider.credentialsFor(ECR))?.password).toBe('first');
    now += 2 * 60_000;
    expect((await provider.credentialsFor(ECR))?.password).toBe('second');
  });

  it.each([1, 2, 6, 11])('with a refresh every %i h, the token handed out at each refresh outlives the next one by 30 min (48 h, fixed clock)', async (refreshHours) => {
    const start = Date.parse('2026-01-01T00:00:00Z');
    let now = start;
    const expiry = new Map<string, number>();
    let issued = 0;
    // ECR's answer: a fresh 12-hour token each time, named so its expiry can be looked up.
    ecr.on(GetAuthorizationTokenCommand).callsFake(() => {
      const password = `token-${(issued += 1)}`;
      expiry.set(password, now + 12 * HOUR);
      return tokenAnswer(password, new Date(now + 12 * HOUR));
    });
    const provider = createEcrCredentials({ now: () => now, refreshHours });
    let ticks = 0;
    for (let tick = 0; now < start + 48 * HOUR; tick++, ticks++) {
      // Webhook steps in between, at odd times: they share the cached token.
      now = start + tick * refreshHours * HOUR + (tick % 3) * 7 * 60_000;
      await provider.credentialsFor(ECR);
      now = start + (tick + 1) * refreshHours * HOUR - 1; // the scheduled refresh (minus jitter)
      const password = (await provider.credentialsFor(ECR))!.password;
      const nextRefresh = now + refreshHours * HOUR;
      expect(expiry.get(password)! - nextRefresh).toBeGreaterThanOrEqual(30 * 60_000 - 1);
    }
    // Not a token per call (two calls per tick): at most one renewal per refresh.
    expect(issued).toBeLessThanOrEqual(ticks + 1);
  });

  it('turns an API error into a FetchError without secrets, and asks again next time', async () => {
    const reason = 'User: arn:aws:iam::123456789012:role/kfm is not authorized to perform: ecr:GetAuthorizationToken';
    const denied = Object.assign(new Error(reason), { name: 'AccessDeniedException' });
    const later = tokenAnswer('after-error', new Date(Date.now() + HOUR));
    ecr.on(GetAuthorizationTokenCommand).rejectsOnce(denied).resolves(later);
    const provider = createEcrCredentials();
    const error = await provider.credentialsFor(ECR).then(() => undefined, (e: unknown) => e as Error);
    expect(error).toBeInstanceOf(FetchError);
    expect(error?.message).toBe(`unable to get an ECR authorization token for ${ECR}: AccessDeniedException: ${reason}`);
    expect((await provider.credentialsFor(ECR))?.password).toBe('after-error');
    expect(ecr.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(2);
  });

  it('refuses a malformed token without echoing it', async () => {
    const authorizationToken = Buffer.from('no-colon-secret').toString('base64');
    const expiresAt = new Date(Date.now() + HOUR);
    ecr.on(GetAuthorizationTokenCommand).resolves({ authorizationData: [{ authorizationToken, expiresAt }] });
    const error = await createEcrCredentials().credentialsFor(ECR).then(() => undefined, (e: unknown) => e as Error);
    expect(error?.message).toBe(`ECR sent a malformed authorization token for ${ECR}`);
    expect(error?.message).not.toContain('no-colon-secret');
  });

  it('recognises ECR hosts, FIPS and China included', () => {
    expect(isEcrHost(ECR)).toBe(true);
    expect(isEcrHost('123456789012.dkr.ecr-fips.us-east-1.amazonaws.com')).toBe(true);
    expect(isEcrHost('123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn')).toBe(true);
    expect(isEcrHost('12345.dkr.ecr.eu-west-1.amazonaws.com')).toBe(false);
    expect(isEcrHost(`${ECR}.evil.example`)).toBe(false);
  });
});

describe('static credentials', () => {
  const hub = { username: 'hub-user', password: 'hub-pass' };
  const own = { username: 'ci', password: 'ci-pass' };
  const provider = createStaticCredentials({ 'index.docker.io': hub, 'registry.example:5000': own });

  it('looks hosts up case-insensitively, with the Docker Hub aliases', async () => {
    await expect(provider.credentialsFor('Registry.Example:5000')).resolves.toEqual(own);
    for (const alias of ['docker.io', 'registry-1.docker.io', 'registry.hub.docker.com', 'INDEX.DOCKER.IO']) {
      await expect(provider.credentialsFor(alias)).resolves.toEqual(hub);
    }
    const dockerConfigStyle = createStaticCredentials({ 'https://index.docker.io/v1/': hub });
    await expect(dockerConfigStyle.credentialsFor('docker.io')).resolves.toEqual(hub);
  });

  it('answers undefined (anonymous) for an unknown host, a port mismatch included', async () => {
    await expect(provider.credentialsFor('ghcr.io')).resolves.toBeUndefined();
    await expect(provider.credentialsFor('registry.example')).resolves.toBeUndefined();
  });
});

describe('credential chain', () => {
  beforeEach(() => ecr.reset());

  it('sends ECR hosts to ECR, configured hosts to their entry, the rest anonymous', async () => {
    ecr.on(GetAuthorizationTokenCommand).resolves(tokenAnswer('from-ecr', new Date(Date.now() + HOUR)));
    const provider = createCredentialProvider({
      registryAuth: { 'quay.io': { username: 'q', password: 'qp' }, [ECR]: { username: 'ignored', password: 'ignored' } },
    });
    await expect(provider.credentialsFor(ECR)).resolves.toEqual({ username: 'AWS', password: 'from-ecr' });
    await expect(provider.credentialsFor('QUAY.IO')).resolves.toEqual({ username: 'q', password: 'qp' });
    await expect(provider.credentialsFor('gcr.io')).resolves.toBeUndefined();
  });

  it('does not touch ECR for other hosts', async () => {
    const createClient = jestFn();
    const provider = createCredentialProvider({ ecr: { createClient: createClient.fn } });
    await provider.credentialsFor('gcr.io');
    expect(createClient.calls).toBe(0);
    expect(ecr.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(0);
  });
});

/** A counting factory (no jest global needed in ESM mode). */
function jestFn() {
  const state = {
    calls: 0,
    fn: (region: string) => {
      state.calls++;
      return new ECRClient({ region });
    },
  };
  return state;
}
