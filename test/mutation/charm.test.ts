// The charm's step (src/charm): what makes the MySQL relation "changed", when the
// state's generation moves, which status wins, the standing pod spec, and the
// docker-resource layer's queue, credentials and lost-credential re-fetch.
import { describe, expect, it } from '@jest/globals';
import type { FetchOutcome, StepContext, StepInputs } from '../../src/charm/context.js';
import { fetchFailureMessage, getInfo, plannedFetches } from '../../src/charm/docker-resource.js';
import { podSpecOf, registryCredentialsOf } from '../../src/charm/metadata-charm.js';
import { charmStateSchema, CONFIG_DEFAULTS, initialState, type CharmState } from '../../src/charm/state.js';
import { standingPodSpec, step } from '../../src/charm/step.js';

const DIGEST_A = `sha256:${'a'.repeat(64)}`;
const DIGEST_B = `sha256:${'b'.repeat(64)}`;
const CREDS = { username: 'robot', password: 'token' };
const ok = (digest: string, credentials?: { username: string; password: string }): FetchOutcome =>
  ({ ok: true, info: { registryPath: `r.example/kf/metadata@${digest}`, digest, tag: 'v1', pushedAt: '2026-01-01T00:00:00Z', credentials } });
const MYSQL = { host: 'mysql', port: 3306, user: 'root', password: 'pw-1' };
const REF = { name: 'mysql-root', key: 'password' };
const inputs = (overrides: Partial<StepInputs> = {}): StepInputs => ({ hook: 'config-changed', fetched: {}, live: {}, setStatus: true, ...overrides });
const live = { mysqlPassword: 'pw-1' };

/** A started charm (MySQL by password, the image fetched). */
const started = (credentials?: typeof CREDS): CharmState =>
  step(undefined, inputs({ mysql: MYSQL, fetched: { 'oci-image': ok(DIGEST_A, credentials) } })).state;

describe('the MySQL relation', () => {
  it.each([
    ['host', { host: 'mysql-2' }],
    ['port', { port: 3307 }],
    ['user', { user: 'admin' }],
    ['password', { password: 'pw-2' }],
  ])('a changed %s flags mysql.changed, bumps the revision and restarts the charm', (_field, change) => {
    const before = started();
    const result = step(before, inputs({ mysql: { ...MYSQL, ...change }, live }));
    expect(result.flagsAtFixpoint).toContain('mysql.changed');
    expect(result.state.mysqlRevision).toBe(before.mysqlRevision + 1);
    expect(result.podSpecSet).toBe(true);
  });

  it('the same relation again changes nothing', () => {
    const before = started();
    const result = step(before, inputs({ mysql: MYSQL, live }));
    expect(result.flagsAtFixpoint).not.toContain('mysql.changed');
    expect(result.state.mysqlRevision).toBe(before.mysqlRevision);
    expect(result.podSpecSet).toBe(false);
    expect(result.state.generation).toBe(before.generation);
  });

  it('by reference: stored without a password, the pod spec points at the Secret', () => {
    const result = step(undefined, inputs({ mysql: { host: 'mysql', port: 3306, user: 'root', passwordSecretRef: REF }, fetched: { 'oci-image': ok(DIGEST_A) } }));
    expect(result.state.mysql).toStrictEqual({ host: 'mysql', port: 3306, user: 'root', passwordSecretRef: REF });
    expect(result.mysqlPassword).toBeUndefined();
    expect(result.podSpec?.mysql).toStrictEqual({ host: 'mysql', port: 3306, user: 'root', passwordSecretRef: REF });
    expect(result.status).toEqual({ state: 'active', message: '' });
  });

  it('by reference: the same reference is no change; another name or key is; so is a switch from a password', () => {
    const byRef = step(undefined, inputs({ mysql: { ...MYSQL, password: undefined, passwordSecretRef: REF } as never, fetched: { 'oci-image': ok(DIGEST_A) } })).state;
    const same = step(byRef, inputs({ mysql: { host: 'mysql', port: 3306, user: 'root', passwordSecretRef: REF } }));
    expect(same.flagsAtFixpoint).not.toContain('mysql.changed');
    for (const other of [{ ...REF, name: 'other' }, { ...REF, key: 'other' }]) {
      expect(step(byRef, inputs({ mysql: { host: 'mysql', port: 3306, user: 'root', passwordSecretRef: other } })).flagsAtFixpoint).toContain('mysql.changed');
    }
    expect(step(started(), inputs({ mysql: { host: 'mysql', port: 3306, user: 'root', passwordSecretRef: REF }, live })).flagsAtFixpoint).toContain('mysql.changed');
    // And back to a password equal to the live Secret's: still a change (the pod must read another Secret).
    expect(step(byRef, inputs({ mysql: MYSQL, live })).flagsAtFixpoint).toContain('mysql.changed');
  });

  it('by reference, an event without relation data keeps it: no live password is needed or used', () => {
    const byRef = step(undefined, inputs({ mysql: { host: 'mysql', port: 3306, user: 'root', passwordSecretRef: REF }, fetched: { 'oci-image': ok(DIGEST_A) } })).state;
    const result = step(byRef, inputs({ live: { mysqlPassword: 'stray' } }));
    expect(result.state.flags).toContain('mysql.available');
    expect(result.mysqlPassword).toBeUndefined();
    expect(result.podSpec?.mysql).toMatchObject({ passwordSecretRef: REF });
    expect(result.podSpec?.mysql).not.toHaveProperty('password');
  });

  it('by password, an event without relation data takes the password from the live Secret', () => {
    const result = step(started(), inputs({ live: { mysqlPassword: 'pw-live' } }));
    expect(result.mysqlPassword).toBe('pw-live');
    expect(result.podSpec?.mysql.password).toBe('pw-live');
  });
});

describe('the state’s generation', () => {
  it('starts at 1, moves by one when the state changes, and stays otherwise', () => {
    const first = step(undefined, inputs());
    expect(first.state.generation).toBe(1);
    const same = step(first.state, inputs());
    expect(same.state.generation).toBe(1);
    const changed = step(first.state, inputs({ config: { port: 9090 } }));
    expect(changed.state.generation).toBe(2);
  });

  it('a first step that changes nothing from the initial state still gets generation 1', () => {
    const first = step(undefined, inputs({ setStatus: false }));
    expect(first.state.generation).toBe(1);
  });

  it('counts from the stored generation', () => {
    const stored = { ...started(), generation: 41 };
    expect(step(stored, inputs({ config: { port: 9091 }, live })).state.generation).toBe(42);
  });
});

describe('the final status', () => {
  it('blocked outranks active and waiting; the last of a kind wins', () => {
    const failed = step(started(), inputs({ hook: 'upgrade-charm', fetched: { 'oci-image': { ok: false, reason: 'down' } }, live: {} }));
    expect(failed.statusHistory.map((s) => s.state)).toEqual(expect.arrayContaining(['waiting', 'blocked']));
    expect(failed.status).toEqual({ state: 'blocked', message: 'unable to fetch resource: oci-image' });
  });

  it('waiting outranks maintenance', () => {
    const result = step(undefined, inputs({ fetched: { 'oci-image': ok(DIGEST_A) } }));
    expect(result.statusHistory[0]).toEqual({ state: 'maintenance', message: 'fetching resource: oci-image' });
    expect(result.status).toEqual({ state: 'waiting', message: 'waiting for mysql relation' });
  });

  it('with no status set at all, the previous status stands', () => {
    const quiet = { ...started(), status: { state: 'active' as const, message: 'kept' } };
    const result = step(quiet, inputs({ hook: 'upgrade-charm', fetched: { 'oci-image': { ok: false, reason: 'down' } }, live, setStatus: false }));
    expect(result.statusHistory).toEqual([]);
    expect(result.status).toEqual({ state: 'active', message: 'kept' });
  });
});

describe('the standing pod spec', () => {
  it('none before the charm started, or without the password', () => {
    expect(standingPodSpec(undefined, live)).toBeUndefined();
    expect(standingPodSpec({ ...started(), flags: [] }, live)).toBeUndefined();
    expect(standingPodSpec(started(), {})).toBeUndefined();
  });

  it('the stored spec with the live password and credentials', () => {
    const spec = standingPodSpec(started(CREDS), { mysqlPassword: 'pw-live', registryCredentials: CREDS });
    expect(spec?.mysql).toStrictEqual({ host: 'mysql', port: 3306, user: 'root', password: 'pw-live' });
    expect(spec?.credentials).toEqual(CREDS);
    expect(spec?.image.digest).toBe(DIGEST_A);
    expect(spec?.config).toEqual(CONFIG_DEFAULTS);
  });

  it('by reference: no password needed, and a live one is never used', () => {
    const byRef = step(undefined, inputs({ mysql: { host: 'mysql', port: 3306, user: 'root', passwordSecretRef: REF }, fetched: { 'oci-image': ok(DIGEST_A) } })).state;
    expect(standingPodSpec(byRef, {})?.mysql).toStrictEqual({ host: 'mysql', port: 3306, user: 'root', passwordSecretRef: REF });
    expect(standingPodSpec(byRef, { mysqlPassword: 'stray' })?.mysql).not.toHaveProperty('password');
  });
});

describe('docker-resource', () => {
  it('records whether the image needs credentials', () => {
    expect(started(CREDS).resources['oci-image']).toEqual({ registryPath: `r.example/kf/metadata@${DIGEST_A}`, digest: DIGEST_A, tag: 'v1', pushedAt: '2026-01-01T00:00:00Z', authenticated: true });
    expect(started().resources['oci-image']!.authenticated).toBe(false);
  });

  it('plans a re-fetch of an authenticated image whose pull Secret is gone, only then', () => {
    const state = started(CREDS);
    expect(plannedFetches(state, 'config-changed', { ...live })).toEqual(['oci-image']);
    expect(plannedFetches(state, 'config-changed', { ...live, registryCredentials: CREDS })).toEqual([]);
    expect(plannedFetches(state, 'config-changed')).toEqual([]);
    expect(plannedFetches(started(), 'config-changed', { ...live })).toEqual([]);
    // Not available (the fetch failed): the pending queue has it already, once.
    const broken = step(state, inputs({ hook: 'upgrade-charm', fetched: { 'oci-image': { ok: false, reason: 'x' } }, live: { ...live, registryCredentials: CREDS } })).state;
    expect(plannedFetches(broken, 'config-changed', { ...live })).toEqual(['oci-image']);
  });

  it('the step re-fetches lost credentials and restores them', () => {
    const result = step(started(CREDS), inputs({ live, fetched: { 'oci-image': ok(DIGEST_A, CREDS) } }));
    expect(result.trace).toContain('docker-resource.refetch-lost-credentials');
    expect(result.registryCredentials).toEqual(CREDS);
    expect(result.flagsAtFixpoint).toContain('layer.docker-resource.oci-image.changed');
  });

  it('with the credentials live, nothing is re-fetched', () => {
    const result = step(started(CREDS), inputs({ live: { ...live, registryCredentials: CREDS } }));
    expect(result.state.pending).toEqual([]);
    expect(result.flagsAtFixpoint).not.toContain('layer.docker-resource.pending');
    expect(result.registryCredentials).toEqual(CREDS);
  });

  it('an upgrade re-fetches what was fetched, queued once', () => {
    const result = step(started(), inputs({ hook: 'upgrade-charm', fetched: { 'oci-image': ok(DIGEST_B) }, live }));
    expect(result.statusHistory.filter((s) => s.message === 'fetching resource: oci-image')).toHaveLength(1);
    expect(result.podSpec?.image.digest).toBe(DIGEST_B);
  });

  it('a pending resource the shell did not fetch fails, saying so', () => {
    const result = step(undefined, inputs({ mysql: MYSQL }));
    expect(result.state.failures).toEqual({ 'oci-image': 'the resource was not fetched' });
    expect(result.state.flags).toContain('layer.docker-resource.oci-image.failed');
  });

  it('a failure clears changed as well as available', () => {
    const result = step(started(), inputs({ hook: 'upgrade-charm', fetched: { 'oci-image': { ok: false, reason: 'x' } }, live }));
    expect(result.flagsAtFixpoint).not.toContain('layer.docker-resource.oci-image.changed');
    expect(result.flagsAtFixpoint).not.toContain('layer.docker-resource.oci-image.available');
  });

  it('credentials differ when either the user or the password does', () => {
    for (const stale of [{ username: 'other', password: 'token' }, { username: 'robot', password: 'old' }]) {
      const result = step(started(CREDS), inputs({ hook: 'upgrade-charm', fetched: { 'oci-image': ok(DIGEST_A, CREDS) }, live: { ...live, registryCredentials: stale } }));
      expect(result.flagsAtFixpoint).toContain('layer.docker-resource.oci-image.changed');
    }
  });

  it('getInfo refuses a resource that is not available, or not known', () => {
    const state = started();
    const context = (flags: string[]): StepContext => ({ flags: new Set(flags), state, inputs: inputs(), statuses: [], credentials: {} });
    expect(getInfo(context(state.flags), 'oci-image').digest).toBe(DIGEST_A);
    expect(() => getInfo(context([]), 'oci-image')).toThrow('resource oci-image not available');
    expect(() => getInfo(context(['layer.docker-resource.other.available']), 'other')).toThrow('resource other not available');
  });

  it('words one failed resource as the layer does', () => {
    expect(fetchFailureMessage(['oci-image'])).toBe('unable to fetch resource: oci-image');
  });
});

describe('metadata-charm', () => {
  const contextOf = (state: CharmState, extra: Partial<StepContext> = {}): StepContext =>
    ({ flags: new Set(state.flags), state, inputs: inputs({ live: { registryCredentials: CREDS } }), statuses: [], credentials: {}, ...extra });

  it('credentials fetched this step win, even none (an anonymous image now)', () => {
    expect(registryCredentialsOf(contextOf(started(CREDS), { credentials: { 'oci-image': undefined } }))).toBeUndefined();
    expect(registryCredentialsOf(contextOf(started(), { credentials: { 'oci-image': CREDS } }))).toEqual(CREDS);
  });

  it('else the live ones, for an image that needs them only', () => {
    expect(registryCredentialsOf(contextOf(started(CREDS)))).toEqual(CREDS);
    expect(registryCredentialsOf(contextOf(started()))).toBeUndefined();
    expect(registryCredentialsOf(contextOf(initialState()))).toBeUndefined();
  });

  it('a pod spec needs the relation and, by password, the password', () => {
    expect(() => podSpecOf(contextOf({ ...started(), mysql: undefined }, { mysqlPassword: 'pw' }))).toThrow('mysql.available without relation data');
    expect(() => podSpecOf(contextOf(started()))).toThrow('mysql.available without relation data');
    expect(podSpecOf(contextOf(started(), { mysqlPassword: 'pw' })).mysql).toStrictEqual({ host: 'mysql', port: 3306, user: 'root', password: 'pw' });
    expect(podSpecOf(contextOf({ ...started(), mysql: { host: 'h', port: 1, user: 'u', passwordSecretRef: REF } })).mysql)
      .toStrictEqual({ host: 'h', port: 1, user: 'u', passwordSecretRef: REF });
  });

  it('the pod spec carries a copy of the config and the revision', () => {
    const state = { ...started(), mysqlRevision: 3 };
    const spec = podSpecOf(contextOf(state, { mysqlPassword: 'pw' }));
    expect(spec.mysqlRevision).toBe(3);
    expect(spec.config).toEqual(state.config);
    expect(spec.config).not.toBe(state.config);
  });
});

describe('the stored state’s schema', () => {
  const valid = () => JSON.parse(JSON.stringify(started()));

  it('reads a state without generation or recent as generation 0 and no records', () => {
    const { generation: _g, recent: _r, ...old } = valid();
    expect(charmStateSchema().parse(old)).toMatchObject({ generation: 0, recent: [] });
  });

  it('keeps every outcome kind, and refuses others', () => {
    for (const outcome of ['applied', 'ignored', 'failed', 'dead-lettered']) {
      expect(charmStateSchema().safeParse({ ...valid(), recent: [{ id: 'a', trigger: 't', outcome, at: 'now' }] }).success).toBe(true);
    }
    expect(charmStateSchema().safeParse({ ...valid(), recent: [{ id: 'a', trigger: 't', outcome: 'lost', at: 'now' }] }).success).toBe(false);
  });

  it('keeps the MySQL reference, and refuses a malformed one', () => {
    const ref = { ...valid(), mysql: { host: 'h', port: 1, user: 'u', passwordSecretRef: REF } };
    expect(charmStateSchema().parse(ref).mysql).toEqual({ host: 'h', port: 1, user: 'u', passwordSecretRef: REF });
    expect(charmStateSchema().safeParse({ ...valid(), mysql: { host: 'h', port: 1, user: 'u', passwordSecretRef: { name: 1 } } }).success).toBe(false);
    expect(charmStateSchema().safeParse({ ...valid(), mysql: { host: 'h', port: 'x', user: 'u' } }).success).toBe(false);
  });

  it('the initial state', () => {
    expect(initialState()).toStrictEqual({
      flags: [], pending: [], resources: {}, failures: {}, config: { port: 8080, 'database-name': 'metadb' },
      mysqlRevision: 0, status: { state: 'maintenance', message: '' }, generation: 0, recent: [], quarantine: {}, control: {},
    });
  });
});
