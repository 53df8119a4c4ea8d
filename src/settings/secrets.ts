// Secrets at cold start (DESIGN §3, §5): a deployed function reads its credentials by name from
// SSM Parameter Store (SecureString) or Secrets Manager (one JSON secret), never from its
// template. KFM_SECRETS_FROM says where: `env` (the default: the variables themselves, for local
// runs), `ssm:<prefix>` or `secretsmanager:<id>`. Each function reads only the names it uses.
//
// The values then go through the same settings schema as the variables (length, one value per
// power, KFM_REGISTRY_AUTH's shape), so a store cannot hold what the environment may not. They are
// kept for a TTL and read again after it, so a rotated secret takes effect without a redeploy.
//
// Powertools Parameters and the SDK clients are imported on the first read of a store: the
// intake bundle's own cold start does not compile them (esbuild.options.cjs makes them chunks).
import { createHash } from 'node:crypto';
import { SettingsError } from '../errors.js';
import { loadSettings, type SecretsFrom, type Settings } from './settings.js';

/**
 * The secrets each function reads. scripts/serverless-vars.cjs keeps a copy (SECRETS: the IAM
 * grants per function, a .cjs that cannot import this); test/secrets.test.ts checks they agree.
 */
export const FUNCTION_SECRETS = {
  intake: ['KFM_WEBHOOK_SECRET', 'KFM_DOCKERHUB_TOKEN', 'KFM_QUAY_TOKEN', 'KFM_CONFIG_SECRET', 'KFM_CONTROL_SECRET'],
  status: ['KFM_STATUS_TOKEN'],
  worker: ['KFM_REGISTRY_AUTH', 'KFM_NOTIFY_SLACK_URL', 'KFM_NOTIFY_WEBHOOK_SECRET'],
} as const;

export type FunctionName = keyof typeof FUNCTION_SECRETS;
export type SecretName = (typeof FUNCTION_SECRETS)[FunctionName][number];
export type SecretValues = Partial<Record<SecretName, string>>;

const ALL_SECRETS: ReadonlySet<string> = new Set(Object.values(FUNCTION_SECRETS).flat());

/**
 * What a store may lack: a URL token matters only to who uses that registry, control is a power
 * an operator may leave closed, and public or ECR images need no registry password. Every other
 * name missing from a store stops the cold start, naming it.
 */
export const OPTIONAL_SECRETS: ReadonlySet<SecretName> = new Set(['KFM_DOCKERHUB_TOKEN', 'KFM_QUAY_TOKEN', 'KFM_CONTROL_SECRET', 'KFM_REGISTRY_AUTH', 'KFM_NOTIFY_SLACK_URL', 'KFM_NOTIFY_WEBHOOK_SECRET']);

/** The port: where a function's secrets are read from. */
export interface SecretSource {
  /** `env`, `ssm:/prefix`, `secretsmanager:id`: for messages (never a value). */
  readonly description: string;
  /** Whether an absent required name stops the cold start (a store), or just closes its routes (env). */
  readonly enforcesRequired: boolean;
  /** The values held for these names (absent: not held). Throws when the store cannot be read. */
  read(names: readonly SecretName[]): Promise<SecretValues>;
  /** Where a name is looked up, for the message when it is missing. */
  locate(name: SecretName): string;
}

export interface StoreOptions {
  /** SDK client options (a test's endpoint and credentials); else the SDK's defaults and AWS_ENDPOINT_URL_SSM / _SECRETS_MANAGER. */
  clientConfig?: Record<string, unknown>;
  /** Powertools' own cache of the values, in seconds (default 0: the loader's TTL decides when to ask). */
  maxAgeSeconds?: number;
}

export function envSource(env: Record<string, string | undefined>): SecretSource {
  return {
    description: 'env',
    enforcesRequired: false,
    async read(names) {
      return Object.fromEntries(names.flatMap((name) => (env[name] ? [[name, env[name]]] : [])));
    },
    locate: (name) => `the environment variable ${name}`,
  };
}

/** SecureString parameters `<prefix>/<NAME>`, decrypted, in one GetParameters call (≤ 10 names). */
export function ssmSource(prefix: string, options: StoreOptions = {}): SecretSource {
  let provider: Promise<import('@aws-lambda-powertools/parameters/ssm').SSMProvider> | undefined;
  const load = async () => new (await import('@aws-lambda-powertools/parameters/ssm')).SSMProvider({ clientConfig: options.clientConfig });
  return {
    description: `ssm:${prefix}`,
    enforcesRequired: true,
    async read(names) {
      provider ??= load().catch((error: unknown) => {
        provider = undefined;
        throw error;
      });
      const ssm = await provider;
      // getParametersByName keeps values 5 s at least (a maxAge of 0 counts as unset): the loader is the cache.
      if (!options.maxAgeSeconds) ssm.clearCache();
      const wanted = Object.fromEntries(names.map((name) => [`${prefix}/${name}`, {}]));
      // throwOnError false: a missing parameter lands in `_errors`, so the message can name each one.
      const found = await ssm.getParametersByName(wanted, { decrypt: true, maxAge: options.maxAgeSeconds, throwOnError: false });
      return Object.fromEntries(names.flatMap((name) => {
        const value = found[`${prefix}/${name}`];
        return typeof value === 'string' && value !== '' ? [[name, value]] : [];
      }));
    },
    locate: (name) => `the SecureString parameter ${prefix}/${name}`,
  };
}

/** One Secrets Manager secret whose SecretString is a JSON object with the variables as keys. */
export function secretsManagerSource(id: string, options: StoreOptions = {}): SecretSource {
  let provider: Promise<import('@aws-lambda-powertools/parameters/secrets').SecretsProvider> | undefined;
  const load = async () => new (await import('@aws-lambda-powertools/parameters/secrets')).SecretsProvider({ clientConfig: options.clientConfig });
  return {
    description: `secretsmanager:${id}`,
    enforcesRequired: true,
    async read(names) {
      provider ??= load().catch((error: unknown) => {
        provider = undefined;
        throw error;
      });
      const raw = await (await provider).get(id, { maxAge: options.maxAgeSeconds ?? 0, forceFetch: !options.maxAgeSeconds });
      const text = typeof raw === 'string' ? raw : raw === undefined ? '' : Buffer.from(raw).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined; // JSON.parse's message quotes the secret: say what is wrong, not what it holds
      }
      if (typeof json !== 'object' || json === null || Array.isArray(json)) {
        throw new SettingsError(`invalid settings: KFM_SECRETS_FROM: the secret ${id} must hold a JSON object with the variables as keys`);
      }
      const values: SecretValues = {};
      for (const name of names) {
        const value = (json as Record<string, unknown>)[name];
        if (value === undefined || value === null || value === '') continue;
        // KFM_REGISTRY_AUTH may be nested JSON rather than a string of it.
        if (typeof value === 'string') values[name] = value;
        else if (name === 'KFM_REGISTRY_AUTH' && typeof value === 'object') values[name] = JSON.stringify(value);
        else throw new SettingsError(`invalid settings: ${name}: must be a string in the secret ${id}`);
      }
      return values;
    },
    locate: (name) => `the key ${name} of the secret ${id}`,
  };
}

export function secretSourceFor(from: SecretsFrom, env: Record<string, string | undefined>, options: StoreOptions = {}): SecretSource {
  switch (from.kind) {
    case 'env':
      return envSource(env);
    case 'ssm':
      return ssmSource(from.prefix, options);
    case 'secretsmanager':
      return secretsManagerSource(from.id, options);
  }
}

/** How long values are kept before the store is asked again. */
export const SECRETS_TTL_MS = 5 * 60_000;

export interface SecretLoaderOptions extends StoreOptions {
  env?: Record<string, string | undefined>;
  /** Another source than KFM_SECRETS_FROM's (tests). */
  source?: SecretSource;
  ttlMs?: number;
  now?: () => number;
  /** A read after the TTL failed: the values already loaded stay in use (the reason never holds one). */
  onStale?: (reason: string) => void;
}

/** A stand-in to compare reads by: the values themselves are not kept twice. */
// Sorted by code unit, not localeCompare: the names are ASCII, and the first localeCompare of a
// process loads ICU's collator (6–13 ms of every cold start, measured by the bench).
const fingerprint = (values: SecretValues) =>
  createHash('sha256').update(JSON.stringify(Object.entries(values).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))).digest('hex');

const reasonOf = (error: unknown) => (error instanceof SettingsError ? error.message : `${(error as Error)?.name ?? 'Error'}: ${(error as Error)?.message ?? String(error)}`);

/**
 * The function's settings with its secrets, from the settings read from the environment: the first
 * call (the cold start) reads the store and throws SettingsError naming what is missing or invalid;
 * later calls answer the same settings object until the TTL passes and the values change.
 */
export function createSecretLoader(base: Settings, names: readonly SecretName[], options: SecretLoaderOptions = {}): () => Promise<Settings> {
  const env = options.env ?? process.env;
  const ttlMs = options.ttlMs ?? SECRETS_TTL_MS;
  const now = options.now ?? Date.now;
  // Powertools keeps nothing (maxAge 0): this loader's TTL is the one cache, so after it a read is fresh.
  const source = options.source ?? secretSourceFor(base.secretsFrom, env, { clientConfig: options.clientConfig, maxAgeSeconds: options.maxAgeSeconds ?? 0 });
  let current: { settings: Settings; key: string; expiresAt: number } | undefined;

  async function read(): Promise<{ settings: Settings; key: string }> {
    let values: SecretValues;
    try {
      values = await source.read(names);
    } catch (error) {
      if (error instanceof SettingsError) throw error;
      throw new SettingsError(`invalid settings: KFM_SECRETS_FROM: cannot read ${source.description}: ${reasonOf(error)}`);
    }
    const missing = source.enforcesRequired ? names.filter((name) => !OPTIONAL_SECRETS.has(name) && values[name] === undefined) : [];
    if (missing.length > 0) {
      throw new SettingsError(`invalid settings: ${missing.map((name) => `${name}: missing (${source.locate(name)})`).join('; ')}`);
    }
    const key = fingerprint(values);
    if (current?.key === key) return current;
    // The environment's settings were read from these very variables: the same object, so what
    // is keyed by it (the local runtime) stays one.
    if (!source.enforcesRequired) return { settings: base, key };
    // A store's values replace the variables of those names (a stale variable must not shadow one).
    const rest = Object.fromEntries(Object.entries(env).filter(([name]) => !ALL_SECRETS.has(name)));
    return { settings: loadSettings({ ...rest, ...values }), key };
  }

  return async function loadSecrets(): Promise<Settings> {
    if (current && now() < current.expiresAt) return current.settings;
    try {
      const next = await read();
      current = { ...next, expiresAt: now() + ttlMs };
    } catch (error) {
      if (!current) throw error;
      // A store outage after the cold start: keep serving with what was read, ask again after the TTL.
      options.onStale?.(reasonOf(error));
      current.expiresAt = now() + ttlMs;
    }
    return current.settings;
  };
}
