// src/app/apply.ts on an in-memory target: what a claim writes, in which order, and when nothing is written.
import { describe, expect, it } from '@jest/globals';
import { claimAndWrite, needsWrite } from '../src/app/apply.js';
import { objectKey, type Snapshot } from '../src/app/snapshot.js';
import { renderStateObject } from '../src/app/state-store.js';
import { initialState, type CharmState } from '../src/charm/state.js';
import type { KubeObject } from '../src/domain/types.js';
import { ConflictError } from '../src/errors.js';
import { GENERATION_ANNOTATION } from '../src/render/names.js';
import type { Target } from '../src/targets/port.js';

const STATE = 'kubeflow-metadata-deployer-state';
const stateObject = (state: CharmState) => renderStateObject(state, { app: 'kubeflow-metadata', namespace: 'kubeflow', name: STATE });
const service = (port: number): KubeObject => ({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'kubeflow-metadata' }, spec: { ports: [{ port }] } });
const stampOf = (object: KubeObject | undefined) => object?.metadata.annotations?.[GENERATION_ANNOTATION];

function memoryTarget(initial: KubeObject[] = []) {
  const objects = new Map(initial.map((object, i) => [objectKey(object.kind, object.metadata.name), { ...object, metadata: { ...object.metadata, resourceVersion: String(i + 1) } }]));
  const writes: KubeObject[] = [];
  let version = 100;
  const target: Target = {
    description: 'memory',
    async read(key) { return objects.get(objectKey(key.kind, key.name)); },
    async write(desired, live) {
      const key = objectKey(desired.kind, desired.metadata.name);
      if (objects.get(key)?.metadata.resourceVersion !== live?.metadata.resourceVersion) throw new ConflictError(`${key} changed`);
      writes.push(desired);
      objects.set(key, { ...desired, metadata: { ...desired.metadata, resourceVersion: String((version += 1)) } });
      return live ? 'patched' : 'created';
    },
  };
  return { target, objects, writes };
}

async function snapshotOf(target: Target): Promise<Snapshot> {
  const keys = [{ kind: 'ConfigMap', name: STATE }, { kind: 'Service', name: 'kubeflow-metadata' }];
  const found = await Promise.all(keys.map((key) => target.read(key)));
  const state = found[0] ? (JSON.parse((found[0].data as Record<string, string>)['state.json']!) as CharmState) : undefined;
  return { state, objects: new Map(keys.map((key, i) => [objectKey(key.kind, key.name), found[i]])), live: {} };
}

describe('claimAndWrite', () => {
  it('writes the state first, then every object stamped with the claimed generation', async () => {
    const { target, writes } = memoryTarget();
    let writesAtClaim = -1;
    const result = await claimAndWrite(target, {
      snapshot: await snapshotOf(target), state: { ...initialState(), flags: ['x'] }, render: () => [service(8080)], stateObject, records: [],
      onClaimed: () => { writesAtClaim = writes.length; },
    });
    expect(writes.map((object) => object.kind)).toEqual(['ConfigMap', 'Service']);
    expect(writesAtClaim).toBe(1);
    expect(result.claimed).toBe(1);
    expect(stampOf(writes[1])).toBe('1');
  });

  it('writes nothing when the state and every object already match', async () => {
    const { target, writes } = memoryTarget();
    const state = { ...initialState(), flags: ['x'] };
    await claimAndWrite(target, { snapshot: await snapshotOf(target), state, render: () => [service(8080)], stateObject, records: [] });
    const before = writes.length;
    const snapshot = await snapshotOf(target);
    expect(needsWrite({ snapshot, state, render: () => [service(8080)] })).toBe(false);
    const again = await claimAndWrite(target, { snapshot, state, render: () => [service(8080)], stateObject, records: [] });
    expect(again).toEqual({ changes: [] });
    expect(writes.length).toBe(before);
    // One field differs: the whole claim happens again.
    expect(needsWrite({ snapshot, state, render: () => [service(9090)] })).toBe(true);
  });

  it('claims above every stamp it sees: a state restored from scratch outranks the objects at once', async () => {
    const stale = { ...service(8080), metadata: { name: 'kubeflow-metadata', annotations: { [GENERATION_ANNOTATION]: '7' } } };
    const { target, writes } = memoryTarget([stale]);
    const result = await claimAndWrite(target, { snapshot: await snapshotOf(target), state: initialState(), render: () => [service(8080)], stateObject, records: [] });
    expect(result.claimed).toBe(8);
    expect(stampOf(writes.at(-1))).toBe('8');
  });

  it('a claim that lost the race writes nothing at all', async () => {
    const { target, writes } = memoryTarget();
    const snapshot = await snapshotOf(target);
    await claimAndWrite(target, { snapshot, state: { ...initialState(), flags: ['a'] }, render: () => [service(1)], stateObject, records: [] });
    const before = writes.length;
    await expect(claimAndWrite(target, { snapshot, state: { ...initialState(), flags: ['b'] }, render: () => [service(2)], stateObject, records: [] }))
      .rejects.toBeInstanceOf(ConflictError);
    expect(writes.length).toBe(before);
  });
});
