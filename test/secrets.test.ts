// The secret loader (src/settings/secrets.ts) with the store's API mocked (aws-sdk-client-mock;
// test/e2e-secrets-store.test.ts runs it against moto): each function asks for its own names only,
// decrypted, in one call; the values pass the settings schema; a missing required one stops the
// cold start naming it; values are kept for the TTL (fixed clock) and a store outage after the cold
// start keeps the loaded ones. And the template's copy of the name lists agrees with this one.
import { createRequire } from 'node:module';
import { GetParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { beforeEach, describe, expect, it } from '@jest/globals';
import { mockClient } from 'aws-sdk-client-mock';
import { SettingsError } from '../src/errors.js';
import { createSecretLoader, envSource, FUNCTION_SECRETS, OPTIONAL_SECRETS, SECRETS_TTL_MS, type SecretName } from '../src/settings/secrets.js';
import { loadSettings } from '../src/settings/settings.js';
import { watchSecrets } from './support/leak-guard.js';

const ssm = mockClient(SSMClient);
const sm = mockClient(SecretsManagerClient);
const PREFIX = '/kfm/test';
const VALUES: Record<SecretName, string> = {
  KFM_WEBHOOK_SECRET: 'store-test-push-secret-0123456789abcdef',
  KFM_DOCKERHUB_TOKEN: 'store-test-dockerhub-token-0123456789ab',
  KFM_QUAY_TOKEN: 'store-test-quay-token-0123456789abcdef01',
  KFM_CONFIG_SECRET: 'store-test-config-secret-0123456789abcd',
  KFM_CONTROL_SECRET: 'store-test-control-secret-0123456789abc',
  KFM_STATUS_TOKEN: 'store-test-status-token-0123456789abcde',
  KFM_NOTIFY_SLACK_URL: 'https://hooks.slack.example/services/store-test-0123456789',
  KFM_NOTIFY_WEBHOOK_SECRET: 'store-test-notify-secret-0123456789abcd',
  KFM_REGISTRY_AUTH: '{"registry.example":{"username":"ci","password":"store-test-registry-Pa55"}}',
};
watchSecrets(...Object.values(VALUES), 'store-test-registry-Pa55', 'store-test-rotated-config-0123456789ab');

/** GetParameters' answer for the names asked, from `held` (the rest InvalidParameters, as SSM answers). */
function parametersFrom(held: Partial<Record<string, string>>) {
  return (input: { Names?: string[]; WithDecryption?: boolean }) => {
    const names = input.Names ?? [];
    const found = names.filter((name) => held[name.slice(PREFIX.length + 1)] !== undefined);
    return {
      Parameters: found.map((name) => ({ Name: name, Type: 'SecureString', Value: held[name.slice(PREFIX.length + 1)], Version: 1 })),
      InvalidParameters: names.filter((name) => !found.includes(name)),
    };
  };
}

const base = (env: Record<string, string> = {}) => loadSettings(env);
const names = (call: { args: [{ input: object }] }) => ((call.args[0].input as { Names: string[] }).Names).slice().sort();
const failure = async (load: () => Promise<unknown>) => load().then(() => { throw new Error('expected a SettingsError'); }, (error: unknown) => error as Error);

beforeEach(() => {
  ssm.reset();
  sm.reset();
});

describe('from SSM Parameter Store', () => {
  const env = { KFM_SECRETS_FROM: `ssm:${PREFIX}` };

  it.each(Object.keys(FUNCTION_SECRETS) as (keyof typeof FUNCTION_SECRETS)[])('%s asks for its own names only, decrypted, in one call', async (fn) => {
    ssm.on(GetParametersCommand).callsFake(parametersFrom(VALUES));
    const settings = await createSecretLoader(base(env), FUNCTION_SECRETS[fn], { env })();
    const calls = ssm.commandCalls(GetParametersCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.args[0].input).toMatchObject({ WithDecryption: true });
    expect(names(calls[0] as never)).toEqual(FUNCTION_SECRETS[fn].map((name) => `${PREFIX}/${name}`).sort());
    if (fn === 'intake') {
      expect(settings.credentials).toEqual({ push: VALUES.KFM_WEBHOOK_SECRET, dockerhub: VALUES.KFM_DOCKERHUB_TOKEN, quay: VALUES.KFM_QUAY_TOKEN, config: VALUES.KFM_CONFIG_SECRET, control: VALUES.KFM_CONTROL_SECRET });
    }
    if (fn === 'status') expect(settings.credentials).toEqual({ status: VALUES.KFM_STATUS_TOKEN });
    if (fn === 'worker') expect(settings.registryAuth).toEqual({ 'registry.example': { username: 'ci', password: 'store-test-registry-Pa55' } });
  });

  it('a missing required parameter stops the cold start naming it (and where), never a value; optional ones may be absent', async () => {
    const { KFM_CONFIG_SECRET: _c, KFM_QUAY_TOKEN: _q, KFM_CONTROL_SECRET: _x, ...held } = VALUES;
    ssm.on(GetParametersCommand).callsFake(parametersFrom(held));
    const error = await failure(createSecretLoader(base(env), FUNCTION_SECRETS.intake, { env }));
    expect(error).toBeInstanceOf(SettingsError);
    expect(error.message).toBe(`invalid settings: KFM_CONFIG_SECRET: missing (the SecureString parameter ${PREFIX}/KFM_CONFIG_SECRET)`);
    for (const value of Object.values(VALUES)) expect(error.message).not.toContain(value);
    // Without the config secret in the store but with the optional ones missing only: loads, those routes closed.
    ssm.reset();
    ssm.on(GetParametersCommand).callsFake(parametersFrom({ ...held, KFM_CONFIG_SECRET: VALUES.KFM_CONFIG_SECRET }));
    const settings = await createSecretLoader(base(env), FUNCTION_SECRETS.intake, { env })();
    expect(settings.credentials.quay).toBeUndefined();
    expect(settings.credentials.control).toBeUndefined();
    expect([...OPTIONAL_SECRETS].sort()).toEqual(['KFM_CONTROL_SECRET', 'KFM_DOCKERHUB_TOKEN', 'KFM_NOTIFY_SLACK_URL', 'KFM_NOTIFY_WEBHOOK_SECRET', 'KFM_QUAY_TOKEN', 'KFM_REGISTRY_AUTH']);
  });

  it('the values pass the settings schema: a short or reused one stops the cold start like a variable would', async () => {
    ssm.on(GetParametersCommand).callsFake(parametersFrom({ ...VALUES, KFM_CONFIG_SECRET: 'short' }));
    expect((await failure(createSecretLoader(base(env), FUNCTION_SECRETS.intake, { env }))).message)
      .toBe('invalid settings: KFM_CONFIG_SECRET: must be at least 32 bytes (e.g. openssl rand -hex 32)');
    ssm.reset();
    ssm.on(GetParametersCommand).callsFake(parametersFrom({ ...VALUES, KFM_CONFIG_SECRET: VALUES.KFM_WEBHOOK_SECRET }));
    const reused = await failure(createSecretLoader(base(env), FUNCTION_SECRETS.intake, { env }));
    expect(reused.message).toMatch(/^invalid settings: KFM_WEBHOOK_SECRET, KFM_CONFIG_SECRET: the same value for several powers/);
    expect(reused.message).not.toContain(VALUES.KFM_WEBHOOK_SECRET);
  });

  it('a store that cannot be read stops the cold start naming KFM_SECRETS_FROM and the store', async () => {
    ssm.on(GetParametersCommand).rejects(Object.assign(new Error('User is not authorized to perform: ssm:GetParameters'), { name: 'AccessDeniedException' }));
    const error = await failure(createSecretLoader(base(env), FUNCTION_SECRETS.status, { env }));
    expect(error.message).toMatch(new RegExp(`^invalid settings: KFM_SECRETS_FROM: cannot read ssm:${PREFIX}: .*not authorized`));
  });

  it('keeps the values for the TTL, then reads again: a rotated secret takes effect, an outage keeps the loaded ones', async () => {
    let now = 0;
    const stale: string[] = [];
    ssm.on(GetParametersCommand).callsFake(parametersFrom(VALUES));
    const load = createSecretLoader(base(env), FUNCTION_SECRETS.intake, { env, now: () => now, onStale: (reason) => stale.push(reason) });
    const first = await load();
    now += SECRETS_TTL_MS - 1;
    expect(await load()).toBe(first);
    expect(ssm.commandCalls(GetParametersCommand)).toHaveLength(1);
    // After the TTL, unchanged values answer the very same settings (the handler is not rebuilt).
    now += 1;
    expect(await load()).toBe(first);
    expect(ssm.commandCalls(GetParametersCommand)).toHaveLength(2);
    // Rotated: new settings with the new value.
    ssm.reset();
    ssm.on(GetParametersCommand).callsFake(parametersFrom({ ...VALUES, KFM_CONFIG_SECRET: 'store-test-rotated-config-0123456789ab' }));
    now += SECRETS_TTL_MS;
    const rotated = await load();
    expect(rotated).not.toBe(first);
    expect(rotated.credentials.config).toBe('store-test-rotated-config-0123456789ab');
    // The store is down: the rotated values stay, the reason is told, no value in it.
    ssm.reset();
    ssm.on(GetParametersCommand).rejects(Object.assign(new Error('connect ETIMEDOUT'), { name: 'TimeoutError' }));
    now += SECRETS_TTL_MS;
    expect(await load()).toBe(rotated);
    expect(stale).toEqual([expect.stringContaining('ETIMEDOUT')]);
  });

  it('a stale variable does not shadow the store: the store\'s value wins, names it does not hold stay unset', async () => {
    const withStale = { ...env, KFM_CONFIG_SECRET: 'stale-variable-config-secret-0123456789', KFM_STATUS_TOKEN: 'stale-variable-status-token-0123456789' };
    watchSecrets(withStale.KFM_CONFIG_SECRET, withStale.KFM_STATUS_TOKEN);
    ssm.on(GetParametersCommand).callsFake(parametersFrom(VALUES));
    const settings = await createSecretLoader(base(withStale), FUNCTION_SECRETS.intake, { env: withStale })();
    expect(settings.credentials.config).toBe(VALUES.KFM_CONFIG_SECRET);
    expect(settings.credentials.status).toBeUndefined(); // intake does not read the status token
  });
});

describe('from Secrets Manager', () => {
  const env = { KFM_SECRETS_FROM: 'secretsmanager:kfm/test' };

  it('reads one JSON secret and takes the function\'s keys; KFM_REGISTRY_AUTH may be nested JSON', async () => {
    const { KFM_REGISTRY_AUTH, ...rest } = VALUES;
    sm.on(GetSecretValueCommand, { SecretId: 'kfm/test' }).resolves({ SecretString: JSON.stringify({ ...rest, KFM_REGISTRY_AUTH: JSON.parse(KFM_REGISTRY_AUTH) }) });
    const intake = await createSecretLoader(base(env), FUNCTION_SECRETS.intake, { env })();
    expect(intake.credentials.push).toBe(VALUES.KFM_WEBHOOK_SECRET);
    expect(intake.credentials.status).toBeUndefined();
    const worker = await createSecretLoader(base(env), FUNCTION_SECRETS.worker, { env })();
    expect(worker.registryAuth['registry.example']?.password).toBe('store-test-registry-Pa55');
    expect(worker.credentials).toEqual({});
  });

  it.each([
    ['not JSON', 'KFM_WEBHOOK_SECRET=x', 'invalid settings: KFM_SECRETS_FROM: the secret kfm/test must hold a JSON object with the variables as keys'],
    ['a JSON list', '["a"]', 'invalid settings: KFM_SECRETS_FROM: the secret kfm/test must hold a JSON object with the variables as keys'],
    ['a number for a key', JSON.stringify({ KFM_STATUS_TOKEN: 12345678901234567890123456789012345 }), 'invalid settings: KFM_STATUS_TOKEN: must be a string in the secret kfm/test'],
    ['without the key', JSON.stringify({ KFM_WEBHOOK_SECRET: VALUES.KFM_WEBHOOK_SECRET }), 'invalid settings: KFM_STATUS_TOKEN: missing (the key KFM_STATUS_TOKEN of the secret kfm/test)'],
  ])('a secret %s stops the cold start with a message that quotes none of it', async (_what, text, message) => {
    sm.on(GetSecretValueCommand).resolves({ SecretString: text });
    const error = await failure(createSecretLoader(base(env), FUNCTION_SECRETS.status, { env }));
    expect(error.message).toBe(message);
  });
});

describe('from the environment (local runs)', () => {
  it('answers the very settings the variables gave (the local runtime is keyed by them), closing what is unset', async () => {
    const env = { KFM_WEBHOOK_SECRET: VALUES.KFM_WEBHOOK_SECRET };
    const settings = base(env);
    expect(await createSecretLoader(settings, FUNCTION_SECRETS.intake, { env })()).toBe(settings);
    expect(await envSource(env).read(FUNCTION_SECRETS.intake)).toEqual({ KFM_WEBHOOK_SECRET: VALUES.KFM_WEBHOOK_SECRET });
    expect(ssm.commandCalls(GetParametersCommand)).toHaveLength(0);
  });
});

describe('the template\'s copy of the lists', () => {
  it('scripts/serverless-vars.cjs grants each function exactly the names it reads', () => {
    const { SECRETS } = createRequire(import.meta.url)('../scripts/serverless-vars.cjs') as { SECRETS: Record<string, string[]> };
    expect(SECRETS).toEqual(FUNCTION_SECRETS);
  });
});
