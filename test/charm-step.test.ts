// The docker-resource layer and the charm's rules, flag by flag and status by status.
import { describe, expect, it } from '@jest/globals';
import { step } from '../src/charm/step.js';
import type { FetchOutcome, StepInputs } from '../src/charm/context.js';
import { plannedFetches } from '../src/charm/docker-resource.js';
import type { CharmState } from '../src/charm/state.js';

const DIGEST_A = `sha256:${'a'.repeat(64)}`;
const DIGEST_B = `sha256:${'b'.repeat(64)}`;
const ok = (digest: string, credentials?: { username: string; password: string }): FetchOutcome => ({
  ok: true,
  info: { registryPath: `gcr.io/kf/metadata@${digest}`, digest, tag: 'v1', credentials },
});
const failed: FetchOutcome = { ok: false, reason: 'registry unreachable' };
const MYSQL = { host: 'mysql', port: 3306, user: 'root', password: 'pw-1' };

function inputs(overrides: Partial<StepInputs> = {}): StepInputs {
  return { hook: 'config-changed', fetched: {}, live: {}, setStatus: true, ...overrides };
}

/** Runs a config step with MySQL and a successful fetch: the charm ends started. */
function started(): CharmState {
  const first = step(undefined, inputs({ mysql: MYSQL, fetched: { 'oci-image': ok(DIGEST_A) } }));
  expect(first.state.flags).toContain('charm.started');
  return first.state;
}
const live = { mysqlPassword: 'pw-1' };

describe('first step (auto-fetch)', () => {
  it('fetches oci-image without being asked, and starts the charm when MySQL is there', () => {
    const result = step(undefined, inputs({ mysql: MYSQL, fetched: { 'oci-image': ok(DIGEST_A) } }));
    expect(result.statusHistory).toEqual([
      { state: 'maintenance', message: 'fetching resource: oci-image' },
      { state: 'maintenance', message: 'configuring container' },
      { state: 'maintenance', message: 'creating container' },
      { state: 'active', message: '' },
    ]);
    expect(result.status).toEqual({ state: 'active', message: '' });
    expect(result.flagsAtFixpoint).toEqual(expect.arrayContaining([
      'layer.docker-resource.oci-image.fetched', 'layer.docker-resource.oci-image.available',
      'config.changed', 'config.changed.port', 'config.changed.database-name', 'mysql.available', 'mysql.changed', 'charm.started',
    ]));
    expect(result.flagsAtFixpoint).not.toContain('layer.docker-resource.pending');
    expect(result.flagsAtFixpoint).not.toContain('layer.docker-resource.oci-image.changed'); // was not available before
    expect(result.podSpecSet).toBe(true);
    expect(result.podSpec?.image.registryPath).toBe(`gcr.io/kf/metadata@${DIGEST_A}`);
    // transient flags are gone from the stored state
    expect(result.state.flags).toEqual(['charm.started', 'layer.docker-resource.oci-image.available', 'layer.docker-resource.oci-image.fetched', 'mysql.available']);
  });

  it('plans the auto-fetch before anything was fetched, and only then', () => {
    expect(plannedFetches({ ...started(), flags: [] }, 'config-changed')).toEqual(['oci-image']);
    expect(plannedFetches(started(), 'config-changed')).toEqual([]);
    expect(plannedFetches(started(), 'upgrade-charm')).toEqual(['oci-image']);
  });

  it('waits for the MySQL relation instead of leaving a stale status', () => {
    const result = step(undefined, inputs({ fetched: { 'oci-image': ok(DIGEST_A) } }));
    expect(result.status).toEqual({ state: 'waiting', message: 'waiting for mysql relation' });
    expect(result.podSpec).toBeUndefined();
    expect(result.state.flags).not.toContain('charm.started');
  });
});

describe('fetch failure', () => {
  it('sets failed, clears available and changed, keeps the name pending, and blocks', () => {
    const result = step(started(), inputs({ hook: 'upgrade-charm', fetched: { 'oci-image': failed }, live }));
    expect(result.status).toEqual({ state: 'blocked', message: 'unable to fetch resource: oci-image' });
    expect(result.state.flags).toEqual(expect.arrayContaining(['layer.docker-resource.oci-image.failed', 'layer.docker-resource.pending']));
    expect(result.state.flags).not.toContain('layer.docker-resource.oci-image.available');
    expect(result.state.pending).toEqual(['oci-image']);
    expect(result.state.failures['oci-image']).toBe('registry unreachable');
    expect(result.podSpec).toBeUndefined(); // nothing is patched
  });

  it('retries the pending fetch on the next event, and a success after a failure reaches the workload', () => {
    const broken = step(started(), inputs({ hook: 'upgrade-charm', fetched: { 'oci-image': failed }, live })).state;
    expect(plannedFetches(broken, 'config-changed')).toEqual(['oci-image']);
    const healed = step(broken, inputs({ fetched: { 'oci-image': ok(DIGEST_B) }, live }));
    expect(healed.status).toEqual({ state: 'active', message: '' });
    expect(healed.podSpecSet).toBe(true);
    expect(healed.podSpec?.image.digest).toBe(DIGEST_B);
    expect(healed.state.pending).toEqual([]);
    expect(healed.state.flags).not.toContain('layer.docker-resource.oci-image.failed');
    expect(healed.state.failures).toEqual({});
  });

  it('words several failed resources as the layer does', async () => {
    const { fetchFailureMessage } = await import('../src/charm/docker-resource.js');
    expect(fetchFailureMessage(['a', 'b'])).toBe('unable to fetch resources: a, b');
  });

  it('sets no layer status with set-status false', () => {
    const result = step(started(), inputs({ hook: 'upgrade-charm', fetched: { 'oci-image': failed }, live, setStatus: false }));
    expect(result.statusHistory.map((s) => s.message)).not.toContain('fetching resource: oci-image');
    expect(result.statusHistory.map((s) => s.message)).not.toContain('unable to fetch resource: oci-image');
    expect(result.state.flags).toContain('layer.docker-resource.oci-image.failed');
  });
});

describe('changes', () => {
  it('flags oci-image.changed when it was available and the digest differs, and re-sets the pod spec', () => {
    const result = step(started(), inputs({ hook: 'upgrade-charm', fetched: { 'oci-image': ok(DIGEST_B) }, live }));
    expect(result.flagsAtFixpoint).toContain('layer.docker-resource.oci-image.changed');
    expect(result.podSpecSet).toBe(true);
    expect(result.podSpec?.image.digest).toBe(DIGEST_B);
    expect(result.state.flags).not.toContain('layer.docker-resource.oci-image.changed');
  });

  it('flags changed when only the credentials differ', () => {
    const creds = { username: 'u', password: 'new' };
    const result = step(started(), inputs({ fetched: { 'oci-image': ok(DIGEST_A, creds) }, live: { ...live, registryCredentials: { username: 'u', password: 'old' } }, hook: 'upgrade-charm' }));
    expect(result.flagsAtFixpoint).toContain('layer.docker-resource.oci-image.changed');
    expect(result.podSpec?.credentials).toEqual(creds);
  });

  it('does not flag changed for the same digest and credentials', () => {
    const result = step(started(), inputs({ hook: 'upgrade-charm', fetched: { 'oci-image': ok(DIGEST_A) }, live }));
    expect(result.flagsAtFixpoint).not.toContain('layer.docker-resource.oci-image.changed');
    expect(result.status).toEqual({ state: 'active', message: '' });
  });

  it('flags config.changed and config.changed.<key> for the keys that changed only', () => {
    const result = step(started(), inputs({ config: { port: 9090, 'database-name': 'metadb' }, live }));
    expect(result.flagsAtFixpoint).toEqual(expect.arrayContaining(['config.changed', 'config.changed.port']));
    expect(result.flagsAtFixpoint).not.toContain('config.changed.database-name');
    expect(result.podSpecSet).toBe(true);
    expect(result.podSpec?.config.port).toBe(9090);
  });

  it('does nothing for a config event that changes nothing', () => {
    const result = step(started(), inputs({ config: { port: 8080 }, live }));
    expect(result.flagsAtFixpoint).not.toContain('config.changed');
    expect(result.podSpecSet).toBe(false);
    expect(result.podSpec).toBeDefined(); // the standing pod spec is still converged to
    expect(result.status).toEqual({ state: 'active', message: '' });
  });

  it('flags mysql.changed when the password differs and bumps the revision', () => {
    const before = started();
    const result = step(before, inputs({ mysql: { ...MYSQL, password: 'pw-2' }, live }));
    expect(result.flagsAtFixpoint).toContain('mysql.changed');
    expect(result.state.mysqlRevision).toBe(before.mysqlRevision + 1);
    expect(result.podSpec?.mysql.password).toBe('pw-2');
  });

  it('clears mysql.available when the relation departs, and waits', () => {
    const result = step(started(), inputs({ mysql: null, live }));
    expect(result.flagsAtFixpoint).toContain('mysql.changed');
    expect(result.state.flags).not.toContain('mysql.available');
    expect(result.state.flags).not.toContain('charm.started');
    expect(result.status).toEqual({ state: 'waiting', message: 'waiting for mysql relation' });
    expect(result.state.mysql).toBeUndefined();
  });

  it('treats a missing password Secret as a departed relation', () => {
    const result = step(started(), inputs({ live: {} }));
    expect(result.status).toEqual({ state: 'waiting', message: 'waiting for mysql relation' });
  });

  it('upgrade-charm clears charm.started and the charm starts again', () => {
    const result = step(started(), inputs({ hook: 'upgrade-charm', fetched: { 'oci-image': ok(DIGEST_A) }, live }));
    expect(result.trace).toEqual(expect.arrayContaining(['charm.upgrade', 'charm.start', 'charm.ready']));
    expect(result.podSpecSet).toBe(true);
  });

  it('never mutates the state it was given', () => {
    const before = started();
    const copy = structuredClone(before);
    step(before, inputs({ hook: 'upgrade-charm', fetched: { 'oci-image': failed }, live }));
    expect(before).toEqual(copy);
  });
});
