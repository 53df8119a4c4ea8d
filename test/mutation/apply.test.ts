// The claim and the fence (src/app/apply.ts): when a step writes, in which order,
// stamped with which generation, and why a step that lost the race writes nothing.
import { describe, expect, it, jest } from '@jest/globals';
import { claimAndWrite, needsWrite, type ApplyInput } from '../../src/app/apply.js';
import { readSnapshot, type Snapshot } from '../../src/app/snapshot.js';
import { renderStateObject } from '../../src/app/state-store.js';
import { initialState, type CharmState, type OutcomeRecord } from '../../src/charm/state.js';
import type { KubeObject } from '../../src/domain/types.js';
import { ConflictError } from '../../src/errors.js';
import { GENERATION_ANNOTATION, workloadNames } from '../../src/render/names.js';
import { memoryTarget, type MemoryTarget } from './support/memory-target.js';

const names = workloadNames('app');
const stateObject = (state: CharmState) => renderStateObject(state, { app: 'app', namespace: 'ns', name: names.state });
const STATE_KEY = `ConfigMap/${names.state}`;

/** A workload of two objects whose content is `image`; the Service carries an annotation of its own. */
const render = (image: string) => (generation: number): KubeObject[] => [
  { apiVersion: 'v1', kind: 'Service', metadata: { name: names.service, annotations: { 'example.com/owner': 'team' } }, spec: { port: 8080 } },
  { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: names.deployment }, spec: { image, rendered: generation } },
];

const record = (id: string, outcome: OutcomeRecord['outcome'] = 'applied'): OutcomeRecord =>
  ({ id, trigger: 'push', outcome, at: '2026-01-01T00:00:00.000Z' });

const state = (image: string, extra: Partial<CharmState> = {}): CharmState =>
  ({ ...initialState(), status: { state: 'active', message: image }, ...extra });

const snapshotOf = (target: MemoryTarget): Promise<Snapshot> => readSnapshot(target, names, 'registry.example');

const input = (snapshot: Snapshot, image: string, extra: Partial<ApplyInput> = {}): ApplyInput =>
  ({ snapshot, state: state(image), render: render(image), stateObject, records: [], ...extra });

const generationOf = (object: KubeObject | undefined) => object?.metadata.annotations?.[GENERATION_ANNOTATION];
const storedState = (target: MemoryTarget) => (target.get('ConfigMap', names.state)?.data as Record<string, string>)['state.json'];

/** A target after one applied step of `image` (generation 1). */
async function deployed(image = 'v1'): Promise<MemoryTarget> {
  const target = memoryTarget();
  await claimAndWrite(target, input(await snapshotOf(target), image, { records: [record('first')] }));
  target.writes.length = 0;
  return target;
}

describe('claimAndWrite: the first step', () => {
  it('claims generation 1, then writes every object stamped with it, in render order', async () => {
    const target = memoryTarget();
    const result = await claimAndWrite(target, input(await snapshotOf(target), 'v1'));
    expect(result.claimed).toBe(1);
    expect(result.changes).toEqual([
      { kind: 'ConfigMap', name: names.state, outcome: 'created' },
      { kind: 'Service', name: names.service, outcome: 'created' },
      { kind: 'Deployment', name: names.deployment, outcome: 'created' },
    ]);
    expect(target.writes.map((w) => `${w.kind}/${w.name}`)).toEqual([STATE_KEY, `Service/${names.service}`, `Deployment/${names.deployment}`]);
    expect(JSON.parse(storedState(target)!).generation).toBe(1);
    expect(generationOf(target.get('Service', names.service))).toBe('1');
    expect(generationOf(target.get('Deployment', names.deployment))).toBe('1');
    // Rendered for the claimed generation, and the object's own annotations kept.
    expect((target.get('Deployment', names.deployment)!.spec as { rendered: number }).rendered).toBe(1);
    expect(target.get('Service', names.service)!.metadata.annotations).toEqual({ 'example.com/owner': 'team', [GENERATION_ANNOTATION]: '1' });
    expect(target.get('Service', names.service)!.metadata.name).toBe(names.service);
  });

  it('stores the records with the claim', async () => {
    const target = memoryTarget();
    await claimAndWrite(target, input(await snapshotOf(target), 'v1', { records: [record('a'), record('b', 'ignored')] }));
    expect(JSON.parse(storedState(target)!).recent.map((r: OutcomeRecord) => [r.id, r.outcome])).toEqual([['a', 'applied'], ['b', 'ignored']]);
  });

  it('works without an onClaimed callback', async () => {
    const target = memoryTarget();
    const { onClaimed: _none, ...rest } = input(await snapshotOf(target), 'v1');
    await expect(claimAndWrite(target, rest)).resolves.toMatchObject({ claimed: 1 });
  });
});

describe('claimAndWrite: later steps', () => {
  it('writes nothing, and claims nothing, when the state and every object are as decided', async () => {
    const target = await deployed();
    const onClaimed = jest.fn();
    const result = await claimAndWrite(target, input(await snapshotOf(target), 'v1', { onClaimed, records: [record('again')] }));
    expect(result).toEqual({ changes: [] });
    expect(result.claimed).toBeUndefined();
    expect(target.writes).toEqual([]);
    expect(onClaimed).not.toHaveBeenCalled();
  });

  it('claims the next generation, keeps the stored records and adds the new ones', async () => {
    const target = await deployed();
    const result = await claimAndWrite(target, input(await snapshotOf(target), 'v2', { records: [record('second')] }));
    expect(result.claimed).toBe(2);
    // The Service's content is the same, but it is re-stamped with the claim.
    expect(result.changes.map((c) => c.outcome)).toEqual(['patched', 'patched', 'patched']);
    const stored = JSON.parse(storedState(target)!);
    expect(stored.generation).toBe(2);
    expect(stored.recent.map((r: OutcomeRecord) => r.id)).toEqual(['first', 'second']);
    expect(generationOf(target.get('Deployment', names.deployment))).toBe('2');
    expect((target.get('Deployment', names.deployment)!.spec as { image: string }).image).toBe('v2');
  });

  it('calls onClaimed once, after the claim and before any object is written', async () => {
    const target = await deployed();
    const seen: string[] = [];
    const onClaimed = jest.fn(() => { seen.push(...target.writes.map((w) => w.kind)); });
    await claimAndWrite(target, input(await snapshotOf(target), 'v2', { onClaimed }));
    expect(onClaimed).toHaveBeenCalledTimes(1);
    expect(seen).toEqual(['ConfigMap']);
  });

  it('repairs objects left stamped older than the state (a crash between the claim and the writes)', async () => {
    const target = await deployed();
    // The claim of generation 2 landed, its writes did not.
    const snapshot = await snapshotOf(target);
    await target.write(stateObject({ ...state('v2'), generation: 2 }), snapshot.objects.get(STATE_KEY));
    target.writes.length = 0;
    const repair = await snapshotOf(target);
    expect(needsWrite(input(repair, 'v2'))).toBe(true);
    const result = await claimAndWrite(target, input(repair, 'v2'));
    expect(result.claimed).toBe(3);
    expect(generationOf(target.get('Deployment', names.deployment))).toBe('3');
    expect((target.get('Deployment', names.deployment)!.spec as { image: string }).image).toBe('v2');
  });
});

describe('needsWrite', () => {
  it('is true before the first step', async () => {
    expect(needsWrite(input(await snapshotOf(memoryTarget()), 'v1'))).toBe(true);
  });

  it('ignores the generation and the audit trail of the next state', async () => {
    const target = await deployed();
    const snapshot = await snapshotOf(target);
    expect(needsWrite({ ...input(snapshot, 'v1'), state: state('v1', { generation: 9, recent: [record('other')] }) })).toBe(false);
  });

  it('is true when the state decided differs, even if every object matches', async () => {
    const target = await deployed();
    const snapshot = await snapshotOf(target);
    expect(needsWrite({ ...input(snapshot, 'v1'), state: state('v1', { flags: ['charm.started'] }) })).toBe(true);
  });

  it('is true when an object is missing', async () => {
    const target = await deployed();
    const snapshot = await snapshotOf(target);
    snapshot.objects.set(`Service/${names.service}`, undefined);
    expect(needsWrite(input(snapshot, 'v1'))).toBe(true);
  });

  it('is true when an object drifted from what the state stands for, and the claim repairs it', async () => {
    const target = await deployed();
    const live = target.get('Deployment', names.deployment)!;
    target.put({ ...live, spec: { image: 'edited', rendered: 1 } });
    const snapshot = await snapshotOf(target);
    expect(needsWrite(input(snapshot, 'v1'))).toBe(true);
    const result = await claimAndWrite(target, input(snapshot, 'v1'));
    expect(result.changes).toContainEqual({ kind: 'Deployment', name: names.deployment, outcome: 'patched' });
    expect((target.get('Deployment', names.deployment)!.spec as { image: string }).image).toBe('v1');
  });

  it('compares objects rendered for the stored generation, not the next one', async () => {
    const target = await deployed();
    const snapshot = await snapshotOf(target);
    expect(needsWrite({ ...input(snapshot, 'v1'), state: state('v1', { generation: 5 }) })).toBe(false);
  });
});

describe('the claim: a step computed from a stale state writes nothing', () => {
  it('fails with ConflictError when the state moved since the snapshot, before any object is written', async () => {
    const target = await deployed();
    const stale = await snapshotOf(target);
    await claimAndWrite(target, input(await snapshotOf(target), 'v3'));
    target.writes.length = 0;
    const onClaimed = jest.fn();
    await expect(claimAndWrite(target, input(stale, 'v2', { onClaimed }))).rejects.toThrow(ConflictError);
    expect(target.writes.map((w) => [w.kind, w.outcome])).toEqual([['ConfigMap', 'conflict']]);
    expect(onClaimed).not.toHaveBeenCalled();
    expect((target.get('Deployment', names.deployment)!.spec as { image: string }).image).toBe('v3');
  });

  it('of two steps computed from one snapshot, only the first writes', async () => {
    const target = await deployed();
    const snapshot = await snapshotOf(target);
    await claimAndWrite(target, input(snapshot, 'v3'));
    await expect(claimAndWrite(target, input(snapshot, 'v2'))).rejects.toThrow(ConflictError);
    expect((target.get('Deployment', names.deployment)!.spec as { image: string }).image).toBe('v3');
    expect(JSON.parse(storedState(target)!).generation).toBe(2);
  });
});

describe('the fence: every claim outranks every stamp seen, and each write is conditioned on its read', () => {
  /** A target whose state is at generation 1 and whose Deployment is stamped `stamp` (a newer claim's write). */
  async function withDeploymentStamped(stamp: number) {
    const target = await deployed();
    const live = target.get('Deployment', names.deployment)!;
    target.put({ ...live, metadata: { ...live.metadata, annotations: { [GENERATION_ANNOTATION]: String(stamp) } }, spec: { image: 'newer', rendered: stamp } });
    target.writes.length = 0;
    return target;
  }

  it('claims one above the highest stamp when an object is stamped above the state', async () => {
    const target = await withDeploymentStamped(3);
    const result = await claimAndWrite(target, input(await snapshotOf(target), 'v2'));
    expect(result.claimed).toBe(4);
    expect(JSON.parse(storedState(target)!).generation).toBe(4);
    expect(generationOf(target.get('Service', names.service))).toBe('4');
    expect(generationOf(target.get('Deployment', names.deployment))).toBe('4');
  });

  it('claims one above the state when the state is the highest', async () => {
    const target = await deployed();
    const snapshot = await snapshotOf(target);
    await target.write(stateObject({ ...state('v1'), generation: 6 }), snapshot.objects.get(STATE_KEY));
    const result = await claimAndWrite(target, input(await snapshotOf(target), 'v2'));
    expect(result.claimed).toBe(7);
  });

  it('a state restored from scratch (generation 0) still claims above the objects', async () => {
    const target = await withDeploymentStamped(5);
    const snapshot = await snapshotOf(target);
    await target.write(stateObject(state('v1')), snapshot.objects.get(STATE_KEY));
    const result = await claimAndWrite(target, input(await snapshotOf(target), 'v1'));
    expect(result.claimed).toBe(6);
    expect((target.get('Deployment', names.deployment)!.spec as { image: string }).image).toBe('v1');
  });

  it('an object written after the snapshot fails its write (ConflictError); the objects before it were written', async () => {
    const target = await deployed();
    const snapshot = await snapshotOf(target);
    const live = target.get('Deployment', names.deployment)!;
    target.put({ ...live, spec: { image: 'someone-else', rendered: 1 } });
    target.writes.length = 0;
    await expect(claimAndWrite(target, input(snapshot, 'v2'))).rejects.toThrow(ConflictError);
    expect(target.writes.map((w) => [w.kind, w.outcome])).toEqual([['ConfigMap', 'patched'], ['Service', 'patched'], ['Deployment', 'conflict']]);
    expect((target.get('Deployment', names.deployment)!.spec as { image: string }).image).toBe('someone-else');
  });

  it('treats an object without a stamp (or without annotations) as generation 0', async () => {
    const target = await deployed();
    const live = target.get('Service', names.service)!;
    target.put({ ...live, metadata: { name: names.service } });
    const result = await claimAndWrite(target, input(await snapshotOf(target), 'v2'));
    expect(result.claimed).toBe(2);
    expect(generationOf(target.get('Service', names.service))).toBe('2');
  });
});
