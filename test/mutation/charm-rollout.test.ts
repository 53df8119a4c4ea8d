// The rollout's rules (src/charm/rollout.ts), through the pure step (src/charm/step.ts) with
// followed rollouts (`verify`): the rollout record, the last Available image and config, the
// quarantine, the statuses and the rules that ran, for each branch. A few guards that no step can
// reach (a spec flag without a spec, a verdict flag without a verdict) are driven through the rules
// directly. Every call into src/ stays inside an `it` (see jest.mutation.config.js).
import { describe, expect, it } from '@jest/globals';
import { flag, type FetchOutcome, type PodSpec, type StepContext, type StepInputs } from '../../src/charm/context.js';
import { rolloutRules, specIdentity } from '../../src/charm/rollout.js';
import { initialState, type CharmState } from '../../src/charm/state.js';
import { step } from '../../src/charm/step.js';
import { runToFixpoint } from '../../src/reactive/engine.js';

const DIGEST_A = `sha256:${'a'.repeat(64)}`;
const DIGEST_B = `sha256:${'b'.repeat(64)}`;
const PATH_A = `r.example/kf/metadata@${DIGEST_A}`;
const PATH_B = `r.example/kf/metadata@${DIGEST_B}`;
const ok = (digest: string, tag?: string): FetchOutcome =>
  ({ ok: true, info: { registryPath: `r.example/kf/metadata@${digest}`, digest, ...(tag ? { tag } : {}) } });
const MYSQL = { host: 'mysql', port: 3306, user: 'root', password: 'pw-1' };
const live = { mysqlPassword: 'pw-1' };
const T = (minute: number) => `2026-01-01T00:0${minute}:00.000Z`;
const inputs = (overrides: Partial<StepInputs>): StepInputs => ({ hook: 'update-status', fetched: {}, live, setStatus: true, verify: true, ...overrides });

/** A first step (config + relation + image A), followed: rollout e1 in progress. */
const first = (overrides: Partial<StepInputs> = {}) =>
  step(undefined, inputs({ hook: 'config-changed', mysql: MYSQL, fetched: { 'oci-image': ok(DIGEST_A, '1.0.0') }, live: {}, now: T(1), eventId: 'e1', ...overrides }));
/** A verdict on the standing rollout. */
const verdict = (state: CharmState, rollout: StepInputs['rollout'], overrides: Partial<StepInputs> = {}) =>
  step(state, inputs({ rollout, now: T(2), eventId: 'v', ...overrides }));
/** A started, Available charm on A. */
const available = () => verdict(first().state, { state: 'complete' }).state;
/** Then a push of B, followed: rollout e3 in progress. */
const pushB = (state = available(), tag: string | null = '1.1.0') =>
  step(state, inputs({ hook: 'upgrade-charm', fetched: { 'oci-image': ok(DIGEST_B, tag ?? undefined) }, now: T(3), eventId: 'e3', cause: 'ImageUpdated: B' }));

const spec = (overrides: Partial<PodSpec> = {}): PodSpec => ({
  image: { registryPath: PATH_A, digest: DIGEST_A, authenticated: false },
  config: { port: 8080, 'database-name': 'metadb' },
  mysql: { host: 'mysql', port: 3306, user: 'root', password: 'pw-1' },
  mysqlRevision: 1,
  ...overrides,
});

/** The rollout rules alone, on a hand-made context. */
function runRules(state: CharmState, flags: string[], extra: Partial<StepContext> = {}, overrides: Partial<StepInputs> = {}) {
  const context: StepContext = { flags: new Set(flags), state, inputs: inputs(overrides), statuses: [], credentials: {}, ...extra };
  const trace = runToFixpoint(rolloutRules, context);
  return { context, trace };
}

describe('specIdentity', () => {
  it('image, config, relation without its password, and revision', () => {
    expect(specIdentity(spec())).toBe(`{"config":{"database-name":"metadb","port":8080},"image":"${PATH_A}","mysql":{"host":"mysql","port":3306,"user":"root"},"revision":1}`);
    expect(specIdentity(spec({ mysql: { host: 'mysql', port: 3306, user: 'root', passwordSecretRef: { name: 's', key: 'k' } } })))
      .toBe(`{"config":{"database-name":"metadb","port":8080},"image":"${PATH_A}","mysql":{"host":"mysql","passwordSecretRef":{"key":"k","name":"s"},"port":3306,"user":"root"},"revision":1}`);
  });

  it('a password alone changes nothing; every other field does', () => {
    const base = specIdentity(spec());
    expect(specIdentity(spec({ mysql: { ...MYSQL, password: 'pw-2' } }))).toBe(base);
    expect(specIdentity(spec({ credentials: { username: 'u', password: 'p' } }))).toBe(base);
    for (const other of [
      spec({ image: { registryPath: PATH_B, digest: DIGEST_B, authenticated: false } }),
      spec({ config: { port: 9090, 'database-name': 'metadb' } }),
      spec({ mysql: { ...MYSQL, host: 'mysql-2' } }),
      spec({ mysql: { ...MYSQL, port: 3307 } }),
      spec({ mysql: { ...MYSQL, user: 'admin' } }),
      spec({ mysqlRevision: 2 }),
    ]) expect(specIdentity(other)).not.toBe(base);
  });
});

describe('a rollout starts', () => {
  it('a new spec, followed: progressing, "rolling out", with its id, time, digest and cause', () => {
    const result = first({ cause: 'ConfigApplied: (provider config, event e1)' });
    expect(result.state.rollout).toStrictEqual({
      state: 'progressing', since: T(1), id: 'e1', spec: specIdentity(result.podSpec!), digest: DIGEST_A, cause: 'ConfigApplied: (provider config, event e1)',
    });
    expect(result.state.flags).toContain('workload.rolling-out');
    expect(result.state.lastAvailable).toBeUndefined();
    expect(result.status).toEqual({ state: 'maintenance', message: 'rolling out' });
    expect(result.trace).toContain('workload.rollout-start');
    expect(result.trace).toContain('workload.rolling-out-status');
  });

  it('without a cause, time or event id: none recorded, the epoch and "unknown"', () => {
    const result = first({ now: undefined, eventId: undefined });
    expect(result.state.rollout).toStrictEqual({ state: 'progressing', since: new Date(0).toISOString(), id: 'unknown', spec: specIdentity(result.podSpec!), digest: DIGEST_A });
  });

  it('not followed (the directory): complete at once, and Available', () => {
    const result = first({ verify: false });
    expect(result.state.rollout).toMatchObject({ state: 'complete', since: T(1), id: 'e1' });
    expect(result.state.flags).not.toContain('workload.rolling-out');
    expect(result.state.lastAvailable).toStrictEqual({ image: result.state.resources['oci-image'], config: { port: 8080, 'database-name': 'metadb' } });
    expect(result.status).toEqual({ state: 'active', message: '' });
  });

  it('the same spec again starts none: the standing rollout stays as it is', () => {
    const before = available();
    const again = step(before, inputs({ hook: 'upgrade-charm', fetched: { 'oci-image': ok(DIGEST_A, '1.0.0') }, now: T(5), eventId: 'e5' }));
    expect(again.state.rollout).toStrictEqual(before.rollout);
    expect(again.state.flags).not.toContain('workload.rolling-out');
  });
});

describe('a rollout completes', () => {
  it('complete: active, and its image and config become the last Available ones; the verdict is consumed', () => {
    const started = first();
    const result = verdict(started.state, { state: 'complete' });
    expect(result.state.rollout).toStrictEqual({ ...started.state.rollout, state: 'complete', since: T(2) });
    expect(result.state.lastAvailable).toStrictEqual({
      image: { registryPath: PATH_A, digest: DIGEST_A, tag: '1.0.0', pushedAt: undefined, authenticated: false },
      config: { port: 8080, 'database-name': 'metadb' },
    });
    expect(result.state.flags).not.toContain('workload.rolling-out');
    expect(result.flagsAtFixpoint).not.toContain('workload.verdict.complete');
    expect(result.trace).toContain('workload.rollout-complete');
    expect(result.status).toEqual({ state: 'active', message: '' });
    expect(result.statusHistory).toEqual([{ state: 'active', message: '' }]);
  });

  it('without an image in the state: no last Available one', () => {
    const stranded: CharmState = {
      ...initialState(), flags: ['workload.rolling-out'],
      rollout: { state: 'progressing', since: T(1), id: 'e1', spec: 's' },
    };
    const result = verdict(stranded, { state: 'complete' });
    expect(result.state.rollout).toStrictEqual({ state: 'complete', since: T(2), id: 'e1', spec: 's' });
    expect(result.state.lastAvailable).toBeUndefined();
  });
});

describe('a rollout fails', () => {
  it('reverted: blocked, the digest quarantined, the last Available image set again, and a revert rollout started', () => {
    const pushed = pushB();
    expect(pushed.state.rollout).toMatchObject({ state: 'progressing', id: 'e3', digest: DIGEST_B, cause: 'ImageUpdated: B' });
    const result = verdict(pushed.state, { state: 'failed', reason: 'pod p CrashLoopBackOff' }, { now: T(4), eventId: 'e4' });
    expect(result.state.quarantine).toStrictEqual({ [DIGEST_B]: { reason: 'pod p CrashLoopBackOff', at: T(4), tag: '1.1.0' } });
    expect(result.state.resources['oci-image']).toMatchObject({ registryPath: PATH_A, digest: DIGEST_A });
    expect(result.state.rollout).toStrictEqual({
      state: 'progressing', since: T(4), id: 'e4', spec: specIdentity(result.podSpec!), digest: DIGEST_A,
      revert: true, reason: 'pod p CrashLoopBackOff', cause: `Reverted: rollout of ${DIGEST_B} failed`,
    });
    expect(result.podSpec?.image.digest).toBe(DIGEST_A);
    expect(result.state.flags).toEqual(expect.arrayContaining(['workload.rolling-out', 'workload.rollout-failed']));
    expect(result.flagsAtFixpoint).not.toContain('workload.verdict.failed');
    expect(result.status).toEqual({ state: 'blocked', message: 'rollout failed: pod p CrashLoopBackOff' });
    // No "rolling out" while the failure stands, though the revert rolls.
    expect(result.statusHistory).not.toContainEqual({ state: 'maintenance', message: 'rolling out' });
    expect(result.statusHistory).toEqual([
      { state: 'blocked', message: 'rollout failed: pod p CrashLoopBackOff' },
      { state: 'maintenance', message: 'configuring container' },
      { state: 'maintenance', message: 'creating container' },
    ]);
    expect(result.trace).toEqual(expect.arrayContaining(['workload.rollout-failed', 'workload.rollout-failed-status', 'charm.start', 'workload.rollout-start']));
    expect(result.trace).not.toContain('workload.rolling-out-status');
  });

  it('a quarantine entry without a tag when the image has none', () => {
    const pushed = pushB(available(), null);
    const result = verdict(pushed.state, { state: 'failed', reason: 'r' }, { now: T(4) });
    expect(result.state.quarantine).toStrictEqual({ [DIGEST_B]: { reason: 'r', at: T(4) } });
  });

  it('no reason given: "the rollout did not complete"', () => {
    const result = verdict(pushB().state, { state: 'failed' }, { now: T(4) });
    expect(result.state.quarantine[DIGEST_B]?.reason).toBe('the rollout did not complete');
    expect(result.state.rollout?.reason).toBe('the rollout did not complete');
    expect(result.status).toEqual({ state: 'blocked', message: 'rollout failed: the rollout did not complete' });
  });

  it('KFM_REVERT off: failed and blocked, the failed image stays, no revert rollout', () => {
    const pushed = pushB();
    const result = verdict(pushed.state, { state: 'failed', reason: 'r' }, { now: T(4), revert: false });
    expect(result.state.rollout).toStrictEqual({ ...pushed.state.rollout, state: 'failed', since: T(4), reason: 'r' });
    expect(result.state.resources['oci-image']?.digest).toBe(DIGEST_B);
    expect(result.state.quarantine[DIGEST_B]).toBeDefined();
    expect(result.podSpecSet).toBe(false);
    expect(result.state.flags).not.toContain('workload.rolling-out');
  });

  it('the first rollout fails (nothing was ever Available): quarantined, nothing to revert to', () => {
    const started = first();
    const result = verdict(started.state, { state: 'failed', reason: 'r' }, { now: T(2) });
    expect(result.state.quarantine).toStrictEqual({ [DIGEST_A]: { reason: 'r', at: T(2), tag: '1.0.0' } });
    expect(result.state.rollout).toStrictEqual({ ...started.state.rollout, state: 'failed', since: T(2), reason: 'r' });
    expect(result.podSpecSet).toBe(false);
    expect(result.trace).not.toContain('charm.start');
  });

  it('a config rollout fails on the Available image: that image is not quarantined; the last config comes back', () => {
    const before = available();
    const changed = step(before, inputs({ hook: 'config-changed', config: { port: 9090 }, now: T(3), eventId: 'e3' }));
    expect(changed.state.rollout).toMatchObject({ state: 'progressing', id: 'e3', digest: DIGEST_A });
    const result = verdict(changed.state, { state: 'failed', reason: 'r' }, { now: T(4), eventId: 'e4' });
    expect(result.state.quarantine).toStrictEqual({});
    expect(result.state.config).toEqual({ port: 8080, 'database-name': 'metadb' });
    expect(result.state.rollout).toMatchObject({ state: 'progressing', revert: true, reason: 'r', cause: `Reverted: rollout of ${DIGEST_A} failed` });
  });

  it('a revert that fails is not reverted again: failed, blocked, nothing set', () => {
    const reverting = verdict(pushB().state, { state: 'failed', reason: 'first' }, { now: T(4), eventId: 'e4' }).state;
    const result = verdict(reverting, { state: 'failed', reason: 'again' }, { now: T(5), eventId: 'e5' });
    expect(result.state.rollout).toStrictEqual({ ...reverting.rollout, state: 'failed', since: T(5), reason: 'again' });
    expect(result.state.quarantine).toStrictEqual(reverting.quarantine);
    expect(result.podSpecSet).toBe(false);
    expect(result.trace).not.toContain('charm.start');
    expect(result.trace).not.toContain('workload.rollout-start');
    expect(result.status).toEqual({ state: 'blocked', message: 'rollout failed: again' });
    expect(result.statusHistory).toEqual([{ state: 'blocked', message: 'rollout failed: again' }]);
  });

  it('a revert that completes: its image is the last Available one again, but the block stands until a new spec is tried', () => {
    const reverting = verdict(pushB().state, { state: 'failed', reason: 'first' }, { now: T(4), eventId: 'e4' }).state;
    const result = verdict(reverting, { state: 'complete' }, { now: T(5) });
    expect(result.state.rollout).toMatchObject({ state: 'complete', revert: true, reason: 'first', since: T(5) });
    expect(result.state.lastAvailable?.image.digest).toBe(DIGEST_A);
    expect(result.status).toEqual({ state: 'blocked', message: 'rollout failed: first' });
  });

  it('a failure that stands without a reason on record: "rollout failed: unknown"', () => {
    const stored: CharmState = { ...available(), flags: [...available().flags, 'workload.rollout-failed'] };
    delete stored.rollout!.reason;
    const result = step(stored, inputs({}));
    expect(result.status).toEqual({ state: 'blocked', message: 'rollout failed: unknown' });
    const none: CharmState = { ...stored, rollout: undefined };
    expect(step(none, inputs({})).status).toEqual({ state: 'blocked', message: 'rollout failed: unknown' });
  });
});

describe('the rules’ names, and their guards (driven directly)', () => {
  it('names, in order', () => {
    expect(rolloutRules.map((rule) => rule.name)).toEqual([
      'workload.rollout-start', 'workload.rollout-complete', 'workload.rollout-failed', 'workload.rolling-out-status', 'workload.rollout-failed-status',
    ]);
  });

  it('a spec flag without a pod spec starts nothing', () => {
    const { context, trace } = runRules(initialState(), [flag.specChanged]);
    expect(trace).toEqual(['workload.rollout-start']);
    expect(context.state.rollout).toBeUndefined();
  });

  it('a revert with no rollout on record: "the new spec" in its cause, no reason', () => {
    const podSpec = spec();
    const { context } = runRules(initialState(), [flag.specChanged], { podSpec, reverting: true }, { now: T(1), eventId: 'e1' });
    expect(context.state.rollout).toStrictEqual({
      state: 'progressing', since: T(1), id: 'e1', spec: specIdentity(podSpec), digest: DIGEST_A, revert: true, reason: undefined,
      cause: 'Reverted: rollout of the new spec failed',
    });
  });

  it('a failed verdict flag without the verdict input: "the rollout did not complete"', () => {
    const state: CharmState = { ...initialState(), rollout: { state: 'progressing', since: T(0), id: 'e0', spec: 's' } };
    const { context } = runRules(state, [flag.rollingOut, flag.verdict('failed')], {}, { now: T(1), revert: false });
    expect(context.state.rollout).toStrictEqual({ state: 'failed', since: T(1), id: 'e0', spec: 's', reason: 'the rollout did not complete' });
    expect(context.statuses).toEqual([{ state: 'blocked', message: 'rollout failed: the rollout did not complete' }]);
  });

  it('a failure flag with no rollout on record: "rollout failed: unknown"', () => {
    const { context } = runRules(initialState(), [flag.rolloutFailed, flag.rollingOut]);
    expect(context.statuses).toEqual([{ state: 'blocked', message: 'rollout failed: unknown' }]);
  });
});
