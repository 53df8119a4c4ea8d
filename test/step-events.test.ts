// What a stored step tells operators (src/app/step-events.ts), pure: each Event from the states
// before and after, with its summary and trigger, and nothing for a step that changed nothing told.
import { describe, expect, it } from '@jest/globals';
import { initialState, type CharmState } from '../src/charm/state.js';
import { isVerdict, stepEvents } from '../src/app/step-events.js';

const d = (n: number) => `sha256:${String(n).repeat(64).slice(0, 64)}`;
const image = (n: number, tag = `1.${n}.0`) => ({ registryPath: `r/m@${d(n)}`, digest: d(n), tag, authenticated: false });
const state = (extra: Partial<CharmState> = {}): CharmState => ({ ...initialState(), flags: ['charm.started'], resources: { 'oci-image': image(1) }, ...extra });
const rollout = (state_: 'progressing' | 'complete' | 'failed', extra: Partial<NonNullable<CharmState['rollout']>> = {}) =>
  ({ state: state_, since: '2026-01-01T00:00:00.000Z', id: 'e', spec: 's1', digest: d(1), ...extra });
const trigger = { provider: 'generic', eventId: 'e' };

describe('stepEvents', () => {
  it('nothing told for the same state', () => {
    expect(stepEvents(state(), state(), trigger)).toEqual([]);
  });

  it('a new image: ImageUpdated with old → new, tag and digest', () => {
    expect(stepEvents(state(), state({ resources: { 'oci-image': image(2) } }), trigger)).toEqual([
      { reason: 'ImageUpdated', summary: 'image 1.2.0', trigger: { ...trigger, from: `r/m@${d(1)}`, to: `r/m@${d(2)}`, tag: '1.2.0', digest: d(2) } },
    ]);
    expect(stepEvents(undefined, state(), trigger).map((e) => e.reason)).toEqual(['ImageUpdated']); // the first deploy
    // Fetched while the workload waits for MySQL: nothing on the Deployment yet, nothing told.
    expect(stepEvents(undefined, state({ flags: [] }), trigger)).toEqual([]);
  });

  it('a config or relation change: ConfigApplied (not on the first step)', () => {
    expect(stepEvents(state(), state({ config: { port: 9090, 'database-name': 'metadb' } }), trigger)).toEqual([{ reason: 'ConfigApplied', summary: 'config or mysql relation changed', trigger }]);
    expect(stepEvents(state(), state({ mysqlRevision: 1 }), trigger).map((e) => e.reason)).toEqual(['ConfigApplied']);
  });

  it('verdicts: RolloutComplete, or RolloutFailed naming the failed digest; only for the rollout that was standing', () => {
    const complete = stepEvents(state({ rollout: rollout('progressing') }), state({ rollout: rollout('complete') }), trigger);
    expect(complete).toEqual([{ reason: 'RolloutComplete', summary: `rollout of ${d(1)} complete`, trigger: { ...trigger, provider: 'rollout', digest: d(1) } }]);
    expect(complete.filter(isVerdict)).toHaveLength(1);
    const failed = stepEvents(state({ rollout: rollout('progressing') }), state({ rollout: rollout('failed', { reason: 'pod p CrashLoopBackOff' }) }), trigger);
    expect(failed).toEqual([{ reason: 'RolloutFailed', summary: 'rollout failed: pod p CrashLoopBackOff', trigger: { ...trigger, provider: 'rollout', digest: d(1) } }]);
    // Another rollout's end (a new spec replaced it), or a complete one seen again: no verdict.
    expect(stepEvents(state({ rollout: rollout('progressing', { spec: 's0' }) }), state({ rollout: rollout('complete') }), trigger).filter(isVerdict)).toEqual([]);
    expect(stepEvents(state({ rollout: rollout('complete') }), state({ rollout: rollout('complete') }), trigger)).toEqual([]);
  });

  it('a failure that reverts: RolloutFailed, Quarantined, Reverted; no ImageUpdated or ConfigApplied for the revert itself', () => {
    const before = state({ resources: { 'oci-image': image(2) }, rollout: rollout('progressing', { spec: 's2', digest: d(2) }) });
    const after = state({
      rollout: rollout('progressing', { spec: 's1', revert: true, reason: 'pod p ErrImagePull' }),
      quarantine: { [d(2)]: { reason: 'pod p ErrImagePull', at: 't' } }, config: { port: 1, 'database-name': 'metadb' },
    });
    const told = stepEvents(before, after, trigger);
    expect(told.map((e) => e.reason)).toEqual(['RolloutFailed', 'Quarantined', 'Reverted']);
    expect(told[0]!.trigger).toMatchObject({ digest: d(2) });
    expect(told[1]).toMatchObject({ summary: `${d(2)} quarantined: pod p ErrImagePull`, trigger: { digest: d(2) } });
    expect(told[2]).toMatchObject({ summary: `reverted to the last Available image r/m@${d(1)}`, trigger: { from: `r/m@${d(2)}`, to: `r/m@${d(1)}` } });
  });

  it('control: Pinned (again when the pin changes), Unpinned, Suspended, Resumed, Unquarantined', () => {
    const pinned = (tag: string) => state({ control: { pin: { tag } } });
    expect(stepEvents(state(), pinned('1.0.0'), trigger)).toEqual([{ reason: 'Pinned', summary: 'pinned to 1.0.0', trigger }]);
    expect(stepEvents(pinned('1.0.0'), pinned('1.1.0'), trigger).map((e) => e.reason)).toEqual(['Pinned']);
    expect(stepEvents(pinned('1.0.0'), pinned('1.0.0'), trigger)).toEqual([]);
    expect(stepEvents(pinned('1.0.0'), state(), trigger).map((e) => e.reason)).toEqual(['Unpinned']);
    expect(stepEvents(state(), state({ control: { suspended: true } }), trigger).map((e) => e.reason)).toEqual(['Suspended']);
    expect(stepEvents(state({ control: { suspended: true } }), state(), trigger).map((e) => e.reason)).toEqual(['Resumed']);
    expect(stepEvents(state({ quarantine: { [d(3)]: { reason: 'x', at: 't' } } }), state(), trigger))
      .toEqual([{ reason: 'Unquarantined', summary: `${d(3)} may be deployed again`, trigger: { ...trigger, digest: d(3) } }]);
  });
});
