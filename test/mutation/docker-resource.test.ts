// layer:docker-resource (src/charm/docker-resource.ts) at the edges of its queue:
// a name is queued once however many rules ask for it, only fetched resources are
// re-fetched, lost credentials matter only for an available resource, and a failed
// fetch is never a change.
import { describe, expect, it } from '@jest/globals';
import type { FetchOutcome, StepInputs } from '../../src/charm/context.js';
import { plannedFetches } from '../../src/charm/docker-resource.js';
import type { CharmState } from '../../src/charm/state.js';
import { step } from '../../src/charm/step.js';

const DIGEST_A = `sha256:${'a'.repeat(64)}`;
const DIGEST_B = `sha256:${'b'.repeat(64)}`;
const CREDS = { username: 'robot', password: 'token' };
const MYSQL = { host: 'mysql', port: 3306, user: 'root', password: 'pw-1' };
const live = { mysqlPassword: 'pw-1' };
const ok = (digest: string, credentials?: typeof CREDS): FetchOutcome =>
  ({ ok: true, info: { registryPath: `r.example/kf/metadata@${digest}`, digest, tag: 'v1', pushedAt: '2026-01-01T00:00:00Z', credentials } });
const failed: FetchOutcome = { ok: false, reason: 'registry down' };
const inputs = (overrides: Partial<StepInputs> = {}): StepInputs => ({ hook: 'config-changed', fetched: {}, live: {}, setStatus: true, ...overrides });
const flagOf = (name: string, suffix: string) => `layer.docker-resource.${name}.${suffix}`;

/** A started charm (MySQL by password, the image fetched). */
const started = (credentials?: typeof CREDS): CharmState =>
  step(undefined, inputs({ mysql: MYSQL, fetched: { 'oci-image': ok(DIGEST_A, credentials) } })).state;

/** A started charm that also knows a resource `other` it never fetched (no `fetched` flag). */
const withUnfetchedOther = (): CharmState => {
  const state = started();
  return { ...state, resources: { ...state.resources, other: { registryPath: `r.example/other@${DIGEST_B}`, digest: DIGEST_B, tag: 'v1', authenticated: false } } };
};

describe('the pending queue', () => {
  it('a resource already pending is queued once more by no rule: one failure, worded for one', () => {
    // The image failed last time: it is still pending, and flagged fetched; an upgrade asks for it again.
    const broken = step(started(), inputs({ hook: 'upgrade-charm', fetched: { 'oci-image': failed }, live })).state;
    expect(broken.pending).toEqual(['oci-image']);
    const result = step(broken, inputs({ hook: 'upgrade-charm', fetched: { 'oci-image': failed }, live }));
    expect(result.state.pending).toEqual(['oci-image']);
    expect(result.status).toEqual({ state: 'blocked', message: 'unable to fetch resource: oci-image' });
    expect(result.statusHistory.filter((s) => s.message === 'fetching resource: oci-image')).toHaveLength(1);
  });

  it('and a resource pending that the upgrade fetches now is applied once, and leaves the queue', () => {
    const broken = step(started(), inputs({ hook: 'upgrade-charm', fetched: { 'oci-image': failed }, live })).state;
    const result = step(broken, inputs({ hook: 'upgrade-charm', fetched: { 'oci-image': ok(DIGEST_B) }, live }));
    expect(result.state.pending).toEqual([]);
    expect(result.state.failures).toEqual({});
    expect(result.state.resources['oci-image']!.digest).toBe(DIGEST_B);
  });
});

describe('an upgrade re-fetches only what was fetched', () => {
  it('plans the fetched image, not a resource known but never fetched', () => {
    expect(plannedFetches(withUnfetchedOther(), 'upgrade-charm', live)).toEqual(['oci-image']);
    expect(plannedFetches(withUnfetchedOther(), 'config-changed', live)).toEqual([]);
  });

  it('the step queues only the fetched one: the other neither fails nor blocks', () => {
    const result = step(withUnfetchedOther(), inputs({ hook: 'upgrade-charm', fetched: { 'oci-image': ok(DIGEST_B) }, live }));
    expect(result.state.failures).toEqual({});
    expect(result.state.pending).toEqual([]);
    expect(result.state.flags).not.toContain(flagOf('other', 'failed'));
    expect(result.status.state).toBe('active');
    expect(result.statusHistory.map((s) => s.message)).not.toContain('fetching resource: other');
  });
});

describe('lost credentials', () => {
  it('are re-fetched only for a resource that is available', () => {
    const state = started(CREDS);
    // Fetched once (so no auto-fetch), authenticated, but not available, and not pending.
    const unavailable: CharmState = { ...state, flags: state.flags.filter((f) => f !== flagOf('oci-image', 'available')), pending: [] };
    expect(plannedFetches(unavailable, 'config-changed', live)).toEqual([]);
    expect(plannedFetches(state, 'config-changed', live)).toEqual(['oci-image']);
  });
});

describe('a failed fetch is no change', () => {
  it('clears a changed flag, even one the stored state carries', () => {
    const state = started();
    const stale: CharmState = { ...state, flags: [...state.flags, flagOf('oci-image', 'changed')] };
    const result = step(stale, inputs({ hook: 'upgrade-charm', fetched: { 'oci-image': failed }, live }));
    expect(result.flagsAtFixpoint).toContain(flagOf('oci-image', 'failed'));
    expect(result.flagsAtFixpoint).not.toContain(flagOf('oci-image', 'changed'));
    expect(result.flagsAtFixpoint).not.toContain(flagOf('oci-image', 'available'));
  });
});

describe('the layer’s handlers in the step’s trace', () => {
  const layerRules = (trace: string[]) => trace.filter((name) => name.startsWith('docker-resource.'));

  it('a first step auto-fetches the image, processes the queue, then checks the credentials of what is available', () => {
    const result = step(undefined, inputs({ mysql: MYSQL, fetched: { 'oci-image': ok(DIGEST_A) } }));
    expect(layerRules(result.trace)).toEqual(['docker-resource.auto-fetch', 'docker-resource.process-pending', 'docker-resource.refetch-lost-credentials']);
  });

  it('an upgrade re-fetches, checks the credentials, then processes the queue', () => {
    const result = step(started(), inputs({ hook: 'upgrade-charm', fetched: { 'oci-image': ok(DIGEST_B) }, live }));
    expect(layerRules(result.trace)).toEqual(['docker-resource.refetch-on-upgrade', 'docker-resource.refetch-lost-credentials', 'docker-resource.process-pending']);
  });

  it('a step with the image fetched and nothing queued only checks the credentials: no fetch, no queue', () => {
    const result = step(started(), inputs({ mysql: MYSQL, live }));
    expect(layerRules(result.trace)).toEqual(['docker-resource.refetch-lost-credentials']);
  });
});
