// ECR registries take no static password: the function's IAM role buys a
// 12-hour token with GetAuthorizationToken. Tokens are cached per registry host
// and the in-flight request is shared, so a burst of webhooks costs one API
// call. The SDK is imported on first use: functions that never talk to ECR do
// not pay its cold-start cost.
import type { ECRClient } from '@aws-sdk/client-ecr';
import type { RegistryCredentials } from '../../domain/types.js';
import { FetchError } from '../../errors.js';
import { ECR_HOST, isEcrHost } from '../../image/reference.js';

export { isEcrHost } from '../../image/reference.js';
import type { CredentialProvider } from '../port.js';


export type EcrClientLike = Pick<ECRClient, 'send'>;

export interface EcrCredentialsOptions {
  /** Builds the SDK client for a region (tests inject one). */
  createClient: (region: string) => EcrClientLike | Promise<EcrClientLike>;
  /** Renew this long before the token's `expiresAt`. */
  renewBeforeMs: number;
  now: () => number;
}

let sdk: Promise<typeof import('@aws-sdk/client-ecr')> | undefined;
function loadSdk() {
  sdk ??= import('@aws-sdk/client-ecr');
  return sdk;
}

const defaults: EcrCredentialsOptions = {
  createClient: async (region) => new (await loadSdk()).ECRClient({ region }),
  renewBeforeMs: 5 * 60 * 1000,
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
          entry.renewAt = expires - options.renewBeforeMs;
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
