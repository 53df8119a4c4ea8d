// The audit trail (src/app/recent.ts) and what GET /status shows of the state (src/app/view.ts).
import { describe, expect, it } from '@jest/globals';
import { mergeRecent, outcomeRecord } from '../../src/app/recent.js';
import { resourcesView, statusView } from '../../src/app/view.js';
import { CONFIG_DEFAULTS, RECENT_LIMIT, initialState, type OutcomeRecord } from '../../src/charm/state.js';

const NOW = new Date('2026-03-04T05:06:07.089Z');
const rec = (id: string, outcome: OutcomeRecord['outcome'] = 'applied'): OutcomeRecord => outcomeRecord(id, 'push', outcome, undefined, NOW);

describe('outcomeRecord', () => {
  it('has no reason key without a reason, and the time in ISO 8601', () => {
    const record = outcomeRecord('a', 'config', 'applied', undefined, NOW);
    expect(record).toStrictEqual({ id: 'a', trigger: 'config', outcome: 'applied', at: '2026-03-04T05:06:07.089Z' });
    expect('reason' in record).toBe(false);
  });

  it('keeps the reason when there is one, an empty one too', () => {
    expect(outcomeRecord('b', 'push', 'failed', 'registry down', NOW)).toStrictEqual({ id: 'b', trigger: 'push', outcome: 'failed', reason: 'registry down', at: NOW.toISOString() });
    expect(outcomeRecord('c', 'push', 'ignored', '', NOW).reason).toBe('');
  });
});

describe('mergeRecent', () => {
  it('stored first, then added, oldest first', () => {
    expect(mergeRecent([rec('a'), rec('b')], [rec('c')]).map((r) => r.id)).toEqual(['a', 'b', 'c']);
  });

  it('one record per id: the later outcome wins and moves last', () => {
    const merged = mergeRecent([rec('a', 'failed'), rec('b')], [rec('a', 'applied')]);
    expect(merged.map((r) => [r.id, r.outcome])).toEqual([['b', 'applied'], ['a', 'applied']]);
  });

  it('keeps the newest RECENT_LIMIT', () => {
    const stored = Array.from({ length: RECENT_LIMIT }, (_, i) => rec(`s${i}`));
    const merged = mergeRecent(stored, [rec('new')]);
    expect(merged).toHaveLength(RECENT_LIMIT);
    expect(merged[0]!.id).toBe('s1');
    expect(merged.at(-1)!.id).toBe('new');
    expect(RECENT_LIMIT).toBe(25);
  });

  it('never changes its inputs', () => {
    const stored = [rec('a')];
    mergeRecent(stored, [rec('a', 'failed')]);
    expect(stored).toEqual([rec('a')]);
  });
});

describe('resourcesView', () => {
  it('shows path, digest and tag of each resource, nothing else', () => {
    const view = resourcesView({ 'oci-image': { registryPath: 'r/x@sha256:1', digest: 'sha256:1', tag: 'v1', pushedAt: '2026-01-01T00:00:00Z', authenticated: true } });
    expect(view).toStrictEqual({ 'oci-image': { registryPath: 'r/x@sha256:1', digest: 'sha256:1', tag: 'v1' } });
  });
});

describe('statusView', () => {
  it('before any event: maintenance, saying so, with the default config and the held records', () => {
    const view = statusView(undefined, [rec('held')]);
    expect(view).toEqual({
      status: { state: 'maintenance', message: 'no event handled yet' },
      flags: [], resources: {}, failures: {}, config: CONFIG_DEFAULTS, recent: [rec('held')], control: {}, quarantine: {},
    });
    expect(view.config).not.toBe(CONFIG_DEFAULTS); // a copy: a caller cannot change the defaults
    expect(statusView(undefined).recent).toEqual([]);
  });

  it('shows the stored state, its records followed by the held ones', () => {
    const state = {
      ...initialState(),
      status: { state: 'active' as const, message: '' },
      flags: ['charm.started'],
      failures: { 'oci-image': 'down' },
      config: { port: 9090, 'database-name': 'mlmd' },
      resources: { 'oci-image': { registryPath: 'p', digest: 'd', tag: 't', authenticated: false } },
      recent: [rec('stored')],
    };
    expect(statusView(state, [rec('held')])).toEqual({
      status: { state: 'active', message: '' },
      flags: ['charm.started'],
      control: {}, quarantine: {},
      resources: { 'oci-image': { registryPath: 'p', digest: 'd', tag: 't' } },
      failures: { 'oci-image': 'down' },
      config: { port: 9090, 'database-name': 'mlmd' },
      recent: [rec('stored'), rec('held')],
    });
  });
});
