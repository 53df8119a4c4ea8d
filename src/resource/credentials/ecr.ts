// ECR registries take no static password: the function's IAM role buys a
// 12-hour token with GetAuthorizationToken. Tokens are cached per registry host
// and the in-flight request is shared, so a burst of webhooks costs one API
// call. The SDK is imported on first use: functions that never talk to ECR do
// not pay its cold-start cost.
//
// The token also goes into the pull Secret the kubelet uses, and that Secret is
// rewritten only by the next step, at the latest the scheduled refresh
// (KFM_REFRESH_HOURS). So a token is renewed once less than the refresh interval
// plus a margin remains: a Secret written by any step then outlives the next
// refresh. Renewing just before expiry would leave a warm container writing a
// token that expires hours before the refresh replaces it.
import type { ECRClient } from '@aws-sdk/client-ecr';
import type { RegistryCredentials } from '../../domain/types.js';
import { FetchError } from '../../errors.js';
import { ECR_HOST } from '../../image/reference.js';

export { isEcrHost } from '../../image/reference.js';
import type { CredentialProvider } from '../port.js';


export type EcrClientLike = Pick<ECRClient, 'send'>;

export interface EcrCredentialsOptions {
  /** Builds the SDK client for a region (tests inject one). */
  createClient: (region: string) => EcrClientLike | Promise<EcrClientLike>;
  /** The scheduled refresh's interval (settings.refreshHours): renew when less than it plus RENEW_MARGIN_MS remains. */
  refreshHours: number;
  /** Renew this long before the token's `expiresAt`; overrides refreshHours. */
  renewBeforeMs?: number;
  now: () => number;
}

/** Beyond the refresh interval: the schedule's jitter, a queued step, a slow rollout. */
export const RENEW_MARGIN_MS = 30 * 60 * 1000;

/** How long before expiry a token is renewed for a refresh every `refreshHours`. */
export const renewBeforeMs = (refreshHours: number): number => refreshHours * 3600 * 1000 + RENEW_MARGIN_MS;

let sdk: Promise<typeof import('@aws-sdk/client-ecr')> | undefined;
function loadSdk() {
  sdk ??= import('@aws-sdk/client-ecr');
  return sdk;
}

const defaults: EcrCredentialsOptions = {
  createClient: async (region) => new (await loadSdk()).ECRClient({ region }),
  refreshHours: 6, // KFM_REFRESH_HOURS' default
  now: () => Date.now(),
};


/** base64 `AWS:<password>` → `{ username: 'AWS', password }`. */
function decodeToken(token: string, host: string): RegistryCredentials {
  const decoded = Buffer.from(token, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0 || colon === decoded.length - 1) throw new FetchError(`ECR sent a malformed authorization token for ${host}`);
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export function createEcrCredentials(opts: Partial<EcrCredentialsOptions> = {}): CredentialProvider {
  const options = { ...defaults, ...opts };
  const renewBefore = options.renewBeforeMs ?? renewBeforeMs(options.refreshHours);
  const clients = new Map<string, Promise<EcrClientLike>>();
  /** `renewAt` is unset while the request is in flight: every caller shares it. */
  const cache = new Map<string, { credentials: Promise<RegistryCredentials>; renewAt?: number }>();

  function clientFor(region: string): Promise<EcrClientLike> {
    let client = clients.get(region);
    if (!client) {
      client = Promise.resolve(options.createClient(region));
      clients.set(region, client);
    }
    return client;
  }

  async function requestToken(host: string, region: string): Promise<{ credentials: RegistryCredentials; expiresAt?: Date }> {
    let data;
    try {
      const [client, { GetAuthorizationTokenCommand }] = await Promise.all([clientFor(region), loadSdk()]);
      const output = await client.send(new GetAuthorizationTokenCommand({}));
      data = output.authorizationData?.[0];
    } catch (error) {
      // The SDK's message says what is wrong (permissions, region) and holds no secret.
      const err = error as Error;
      throw new FetchError(`unable to get an ECR authorization token for ${host}: ${err.name}: ${err.message}`, { cause: error });
    }
    if (!data?.authorizationToken) throw new FetchError(`ECR answered without an authorization token for ${host}`);
    return { credentials: decodeToken(data.authorizationToken, host), expiresAt: data.expiresAt };
  }

  function fresh(host: string, region: string) {
    const entry: { credentials: Promise<RegistryCredentials>; renewAt?: number } = {
      credentials: requestToken(host, region).then(
        ({ credentials, expiresAt }) => {
          // Without an expiry, assume ECR's documented 12 hours.
          const expires = expiresAt?.getTime() ?? options.now() + 12 * 3600 * 1000;
          // A token shorter-lived than the margin (never from ECR) is renewed on every use.
          entry.renewAt = expires - renewBefore;
          return credentials;
        },
        (error: unknown) => {
          // A failure is not cached: the next call asks again.
          if (cache.get(host) === entry) cache.delete(host);
          throw error;
        },
      ),
    };
    cache.set(host, entry);
    return entry;
  }

  async function credentialsFor(registry: string): Promise<RegistryCredentials | undefined> {
    const host = registry.toLowerCase();
    const region = ECR_HOST.exec(host)?.[3];
    if (!region) return undefined;
    let entry = cache.get(host);
    if (!entry || (entry.renewAt !== undefined && options.now() >= entry.renewAt)) entry = fresh(host, region);
    const credentials = await entry.credentials;
    return { ...credentials };
  }

  return { credentialsFor };
}
