// Property tests for the two strict schemas users write by hand: the config
// webhook body (parseConfigRequest) and the settings (loadSettings). Whatever
// arrives, the answer is a valid result or the documented error — an HttpError
// 400 naming a field that is in the body, or a SettingsError naming a KFM_
// variable that was set — never a TypeError or anything else.
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { parseConfigRequest } from '../src/app/config-request.js';
import { HttpError, SettingsError } from '../src/errors.js';
import { loadSettings, type Settings } from '../src/settings/settings.js';

const RUNS = { numRuns: 400 };
const DATABASE_NAME = /^[A-Za-z0-9_$]{1,64}$/;
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const hostileKey = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'config', 'relations', 'mysql', 'port'));
const anyValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.anything({ maxDepth: 3, key: hostileKey }),
  fc.constantFrom(Number.NaN, Infinity, -Infinity, 1e308, -0, 2 ** 53 + 1, '', ' ', 'a'.repeat(5000), null, undefined, [], {}),
);

/** The contract of parseConfigRequest for one input. */
function configContract(body: unknown): void {
  let trigger: ReturnType<typeof parseConfigRequest>;
  try {
    trigger = parseConfigRequest(body);
  } catch (error) {
    expect(error).toBeInstanceOf(HttpError);
    const { statusCode, field, message } = error as HttpError;
    expect(statusCode).toBe(400);
    expect(typeof field).toBe('string');
    expect(field).not.toBe('');
    expect(message).toContain(field);
    // The field is the body itself, or a path starting at one of its keys (or a required key).
    const keys = ['config', 'relations', ...(typeof body === 'object' && body !== null ? Object.keys(body) : [])];
    const named = field === 'body' || keys.some((key) => field === key || field!.startsWith(`${key}.`) || field!.startsWith(`${key}[`));
    expect({ field, named }).toEqual({ field, named: true });
    return;
  }
  const input = body as { config?: Record<string, unknown>; relations?: { mysql?: Record<string, unknown> | null } };
  expect(trigger.hook).toBe('config-changed');
  if (trigger.config !== undefined) {
    expect(Object.keys(trigger.config).every((key) => key === 'port' || key === 'database-name')).toBe(true);
    if (trigger.config.port !== undefined) {
      expect(Number.isInteger(trigger.config.port) && trigger.config.port >= 1 && trigger.config.port <= 65535).toBe(true);
      expect(trigger.config.port).toBe(input.config?.port);
    }
    if (trigger.config['database-name'] !== undefined) expect(trigger.config['database-name']).toMatch(DATABASE_NAME);
  }
  const mysql = trigger.mysql;
  if (mysql === undefined || mysql === null) {
    expect(mysql).toBe(input.relations?.mysql);
  } else {
    expect(mysql.host.length).toBeGreaterThan(0);
    expect(mysql.host.length).toBeLessThanOrEqual(253);
    expect(mysql.host).toMatch(/^[A-Za-z0-9.:[\]-]+$/); // it lands in a command line: no spaces, quotes or shell characters
    expect(Number.isInteger(mysql.port) && mysql.port >= 1 && mysql.port <= 65535).toBe(true);
    expect(mysql.user).toMatch(/^[A-Za-z0-9_.$-]{1,32}$/);
    // Exactly one of password and passwordSecretRef, as the body said.
    const given = input.relations?.mysql as { password?: unknown; passwordSecretRef?: { name?: unknown; key?: unknown } } | undefined;
    if (mysql.passwordSecretRef !== undefined) {
      expect(mysql.password).toBeUndefined();
      expect(given?.password).toBeUndefined();
      expect(mysql.passwordSecretRef).toEqual({ name: given?.passwordSecretRef?.name, key: given?.passwordSecretRef?.key });
      expect(mysql.passwordSecretRef.name).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);
      expect(mysql.passwordSecretRef.name.length).toBeLessThanOrEqual(253);
      expect(mysql.passwordSecretRef.key).toMatch(/^[-._a-zA-Z0-9]{1,253}$/);
    } else {
      expect(given?.passwordSecretRef).toBeUndefined();
      if (mysql.password === undefined) throw new Error('a MySQL relation with neither password nor passwordSecretRef');
      expect(mysql.password.length).toBeGreaterThanOrEqual(1);
      expect(mysql.password.length).toBeLessThanOrEqual(1024);
      expect(mysql.password).toBe(given?.password);
    }
  }
}

// Near-valid bodies: the right shape, each value sometimes wrong, sometimes an extra key.
const sometimes = <T>(valid: fc.Arbitrary<T>, ...wrong: Array<fc.Arbitrary<unknown>>) =>
  fc.oneof({ weight: 6, arbitrary: valid as fc.Arbitrary<unknown> }, ...wrong.map((arbitrary) => ({ weight: 1, arbitrary })));
const port = sometimes(fc.integer({ min: 1, max: 65535 }), fc.integer(), fc.double(), anyValue);
const host = sometimes(fc.oneof(fc.domain(), fc.ipV4(), fc.ipV6().map((ip) => `[${ip}]`)), fc.string({ maxLength: 300 }), anyValue);
const user = sometimes(fc.constantFrom('root', 'metadata_user', 'a$b.c-d'), fc.string({ maxLength: 40 }), anyValue);
const password = sometimes(fc.string({ minLength: 1, maxLength: 40 }), fc.string({ maxLength: 1100 }), anyValue);
const passwordSecretRef = sometimes(
  fc.record({ name: sometimes(fc.constantFrom('mysql-root', 'db.credentials', 'a'), fc.string({ maxLength: 300 }), anyValue), key: sometimes(fc.constantFrom('password', 'root-password', 'MYSQL_ROOT_PASSWORD'), fc.string({ maxLength: 40 }), anyValue) }, { requiredKeys: ['name', 'key'] }),
  anyValue,
);
// A password, a reference to a Secret holding it, sometimes both or neither (each a 400).
const mysqlBody = fc.oneof(
  { weight: 4, arbitrary: fc.record({ host, port, user, password }, { requiredKeys: ['host', 'port', 'password'] }) },
  { weight: 2, arbitrary: fc.record({ host, port, user, passwordSecretRef }, { requiredKeys: ['host', 'port', 'passwordSecretRef'] }) },
  { weight: 1, arbitrary: fc.record({ host, port, user, password, passwordSecretRef }, { requiredKeys: ['host', 'port'] }) },
);
const withExtra = <T>(arb: fc.Arbitrary<T>) => fc.tuple(arb, sometimes(fc.constant(null), fc.tuple(hostileKey, anyValue))).map(([value, extra]) =>
  Array.isArray(extra) && typeof value === 'object' && value !== null ? (Reflect.defineProperty(value, extra[0], { value: extra[1], enumerable: true, writable: true, configurable: true }), value) : value);
const configBody = withExtra(fc.record({
  config: sometimes(withExtra(fc.record({ port, 'database-name': sometimes(fc.stringMatching(/^[A-Za-z0-9_$]{1,64}$/), fc.string({ maxLength: 80 }), anyValue) }, { requiredKeys: [] })), anyValue),
  relations: sometimes(withExtra(fc.record({ mysql: sometimes(withExtra(mysqlBody), fc.constant(null), anyValue) }, { requiredKeys: [] })), anyValue),
}, { requiredKeys: [] }));

describe('parseConfigRequest (POST /webhooks/config)', () => {
  it('any value: a valid trigger or a 400 naming a field of the body', () => {
    fc.assert(fc.property(anyValue, (body) => configContract(body)), RUNS);
  });

  it('near-valid bodies: a valid trigger or a 400 naming a field of the body', () => {
    fc.assert(fc.property(configBody, (body) => configContract(body)), { numRuns: 1500 });
  });

  it('the generator reaches both outcomes (the property is not vacuous)', () => {
    const outcomes = fc.sample(configBody, { numRuns: 500, seed: 42 }).map((body) => {
      try { parseConfigRequest(body); return 'ok'; } catch { return 'error'; }
    });
    // Both ways of giving MySQL's password are accepted somewhere.
    const relations = fc.sample(configBody, { numRuns: 2000, seed: 42 }).flatMap((body) => {
      try { const { mysql } = parseConfigRequest(body); return mysql ? [mysql] : []; } catch { return []; }
    });
    expect(relations.filter((m) => m.password !== undefined).length).toBeGreaterThan(5);
    expect(relations.filter((m) => m.passwordSecretRef !== undefined).length).toBeGreaterThan(5);
    expect(outcomes.filter((o) => o === 'ok').length).toBeGreaterThan(25);
    expect(outcomes.filter((o) => o === 'error').length).toBeGreaterThan(25);
  });
});

const CREDENTIAL_VARIABLES = ['KFM_WEBHOOK_SECRET', 'KFM_DOCKERHUB_TOKEN', 'KFM_QUAY_TOKEN', 'KFM_CONFIG_SECRET', 'KFM_CONTROL_SECRET', 'KFM_STATUS_TOKEN'] as const;
const POWER_OF = { KFM_WEBHOOK_SECRET: 'push', KFM_DOCKERHUB_TOKEN: 'dockerhub', KFM_QUAY_TOKEN: 'quay', KFM_CONFIG_SECRET: 'config', KFM_CONTROL_SECRET: 'control', KFM_STATUS_TOKEN: 'status' } as const;
/** A credential: valid from 32 bytes (counted in UTF-8); 16–31 characters, once enough, are now refused too. */
const credential: [fc.Arbitrary<string>, fc.Arbitrary<string>] = [
  fc.oneof(fc.string({ minLength: 32, maxLength: 48 }), fc.string({ unit: 'binary', minLength: 16, maxLength: 40 }).filter((t) => Buffer.byteLength(t, 'utf8') >= 32)),
  fc.oneof(fc.string({ minLength: 16, maxLength: 31 }), fc.string({ minLength: 1, maxLength: 15 }), fc.string({ unit: 'binary', minLength: 1, maxLength: 31 }).filter((t) => Buffer.byteLength(t, 'utf8') < 32)),
];
const VARIABLES = ['KFM_TARGET', 'KFM_NAMESPACE', 'KFM_APP', 'KFM_IMAGE', 'KFM_TAG_POLICY', ...CREDENTIAL_VARIABLES, 'KFM_REGISTRY_AUTH', 'KFM_SET_STATUS', 'KFM_OFFLINE', 'KFM_EKS_CLUSTER', 'KFM_EKS_ENDPOINT', 'KFM_EKS_CA', 'AWS_REGION'] as const;
/** Per variable: valid values, and wrong ones that look right. */
const values: Record<(typeof VARIABLES)[number], [fc.Arbitrary<string>, fc.Arbitrary<string>]> = {
  KFM_TARGET: [fc.constantFrom('kubernetes', 'dir:.kfm', 'dir:/tmp/x'), fc.constantFrom('dir:', 'k8s', 'Kubernetes')],
  KFM_NAMESPACE: [fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/), fc.constantFrom('Kubeflow', '-x', 'a'.repeat(64))],
  KFM_APP: [fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/), fc.constantFrom('App', 'a_b')],
  KFM_IMAGE: [fc.constantFrom('gcr.io/kubeflow-images-public/metadata:v0.1.8', 'acme/metadata:1.2.3', 'registry:5000/a/b'), fc.constantFrom('UPPER/case:1', 'x@sha256:abc', 'a:b:c', ':tag')],
  KFM_TAG_POLICY: [fc.constantFrom('track', 'semver:^1.2', 'regex:^v\\d+$'), fc.constantFrom('semver:not a range', 'regex:(', 'latest', 'semver:')],
  KFM_WEBHOOK_SECRET: credential,
  KFM_DOCKERHUB_TOKEN: credential,
  KFM_QUAY_TOKEN: credential,
  KFM_CONFIG_SECRET: credential,
  KFM_CONTROL_SECRET: credential,
  KFM_STATUS_TOKEN: credential,
  KFM_REGISTRY_AUTH: [fc.constantFrom('{}', '{"Registry.Example:5000":{"username":"u","password":"p"}}'), fc.oneof(fc.constantFrom('{"x":{"username":"u"}}', '[]', 'null', '{', '{"x":1}', '{"__proto__":{"username":"u","password":"p"}}'), fc.json())],
  KFM_SET_STATUS: [fc.constantFrom('true', 'false'), fc.constantFrom('TRUE', 'yes', '1')],
  KFM_OFFLINE: [fc.constantFrom('true', 'false'), fc.constantFrom('on')],
  KFM_EKS_CLUSTER: [fc.constantFrom('prod', 'x'), fc.constant('')],
  KFM_EKS_ENDPOINT: [fc.constantFrom('https://abc.eks.amazonaws.com'), fc.constantFrom('http://abc', 'not a url')],
  KFM_EKS_CA: [fc.constantFrom('LS0tLS1CRUdJTi', 'x'), fc.constant('')],
  AWS_REGION: [fc.constantFrom('eu-west-1', 'x'), fc.constant('')],
};
const environment = fc.record(
  Object.fromEntries(VARIABLES.map((name) => [name, fc.oneof({ weight: 24, arbitrary: values[name][0] }, { weight: 2, arbitrary: values[name][1] }, fc.string({ maxLength: 30 }), fc.constant(''))])) as Record<(typeof VARIABLES)[number], fc.Arbitrary<string>>,
  { requiredKeys: [] },
).chain((env) => fc.dictionary(fc.oneof(fc.string({ maxLength: 10 }).map((s) => `KFM_${s.toUpperCase()}`), fc.string({ maxLength: 10 })), fc.string(), { maxKeys: 3 }).map((extra) => ({ ...extra, ...env })))
  // Sometimes one power's value reused for another: refused, naming the variables.
  .chain((env) => fc.option(fc.tuple(fc.constantFrom(...CREDENTIAL_VARIABLES), fc.constantFrom(...CREDENTIAL_VARIABLES)), { freq: 6 }).map((copy) =>
    copy && env[copy[0]] ? { ...env, [copy[1]]: env[copy[0]] } : env));

/** The contract of loadSettings for one environment. */
function settingsContract(env: Record<string, string | undefined>): void {
  let settings: Settings;
  try {
    settings = loadSettings(env);
  } catch (error) {
    expect(error).toBeInstanceOf(SettingsError);
    const { message } = error as SettingsError;
    expect(message).toMatch(/^invalid settings: /);
    const named = [...message.matchAll(/\b(KFM_[A-Z_]+|AWS_REGION):/g)].map((m) => m[1]!);
    expect(named.length).toBeGreaterThan(0);
    // Only variables that were set (and not empty) can be wrong: the defaults are valid.
    for (const name of named) expect(env[name]).toEqual(expect.stringMatching(/./s));
    return;
  }
  expect(['dir', 'kubernetes']).toContain(settings.target.kind);
  if (settings.target.kind === 'dir') expect(settings.target.path.length).toBeGreaterThan(0);
  expect(settings.namespace).toMatch(DNS_LABEL);
  expect(settings.app).toMatch(DNS_LABEL);
  expect(settings.image.registry.length * settings.image.repository.length * settings.image.tag.length).toBeGreaterThan(0);
  expect(['track', 'semver', 'regex']).toContain(settings.tagPolicy.kind);
  // Each credential is its variable's value, at least 32 bytes, and no two powers share one.
  const seen = new Set<string>();
  for (const name of CREDENTIAL_VARIABLES) {
    const value = settings.credentials[POWER_OF[name]];
    expect(value).toBe(env[name] === '' ? undefined : env[name]);
    if (value === undefined) continue;
    expect(Buffer.byteLength(value, 'utf8')).toBeGreaterThanOrEqual(32);
    expect(seen.has(value)).toBe(false);
    seen.add(value);
  }
  for (const [host, auth] of Object.entries(settings.registryAuth)) {
    expect(host).toBe(host.toLowerCase());
    expect(auth.username.length * auth.password.length).toBeGreaterThan(0);
  }
  expect(typeof settings.setStatus).toBe('boolean');
  if (settings.offline) expect(settings.target.kind).toBe('dir');
  if (settings.eks) expect(settings.eks.cluster).toBe(env.KFM_EKS_CLUSTER);
}

describe('loadSettings (the environment)', () => {
  it('any environment: valid settings, or a SettingsError naming a KFM_ variable that was set', () => {
    fc.assert(fc.property(environment, (env) => settingsContract(env)), { numRuns: 1500 });
  });

  it('arbitrary strings in every variable', () => {
    const wild = fc.record(Object.fromEntries(VARIABLES.map((name) => [name, fc.string({ maxLength: 60 })])) as Record<string, fc.Arbitrary<string>>, { requiredKeys: [] });
    fc.assert(fc.property(wild, (env) => settingsContract(env)), RUNS);
  });

  it('the generator reaches both outcomes (the property is not vacuous)', () => {
    const outcomes = fc.sample(environment, { numRuns: 500, seed: 7 }).map((env) => {
      try { loadSettings(env); return 'ok'; } catch (error) { return (error as Error).message; }
    });
    expect(outcomes.filter((o) => o === 'ok').length).toBeGreaterThan(25);
    expect(outcomes.filter((o) => o !== 'ok').length).toBeGreaterThan(25);
    // Both credential rules are reached: a short one, and one value for two powers.
    expect(outcomes.filter((o) => o.includes('must be at least 32 bytes')).length).toBeGreaterThan(5);
    expect(outcomes.filter((o) => o.includes('the same value for several powers')).length).toBeGreaterThan(5);
  });
});
