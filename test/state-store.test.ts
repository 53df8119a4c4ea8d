// The stored state: JSON with sorted keys (the same state is the same text), read
// back exactly; an unreadable state ConfigMap is a TargetError (502) that names the
// object, the key and what to do, never a reset to the initial state.
import { describe, expect, it } from '@jest/globals';
import { initialState } from '../src/charm/state.js';
import { readStateObject, renderStateObject } from '../src/app/state-store.js';
import { TargetError } from '../src/errors.js';
import type { KubeObject } from '../src/domain/types.js';

const options = { app: 'kubeflow-metadata', namespace: 'kubeflow', name: 'kubeflow-metadata-deployer-state' };
const withData = (data: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: options.name }, data });

describe('the state ConfigMap', () => {
  it('round-trips, and key order does not change the text', () => {
    const state = { ...initialState(), flags: ['charm.started'], generation: 3 };
    const object = renderStateObject(state, options);
    expect(readStateObject(object)).toEqual(state);
    const reordered = Object.fromEntries(Object.entries(state).reverse()) as typeof state;
    expect(renderStateObject(reordered, options).data).toEqual(object.data);
  });

  it.each([
    ['a ConfigMap from an earlier format', { 'state.yaml': 'flags: []\n' }, /\(no state\.json key\): restore it, or delete it/],
    ['text that is not JSON', { 'state.json': '{"flags": [' }, /\(state\.json is not JSON\)/],
    ['a field of the wrong type', { 'state.json': JSON.stringify({ ...initialState(), flags: 'charm.started' }) }, /\(state\.json\.flags: expected array, received string\)/],
  ])('%s is a TargetError naming the object and the key', (_what, data, message) => {
    const read = () => readStateObject(withData(data));
    expect(read).toThrow(TargetError);
    expect(read).toThrow(message);
    expect(read).toThrow(/the state ConfigMap kubeflow-metadata-deployer-state is not readable/);
  });

  it('no object is no state yet (the first event)', () => {
    expect(readStateObject(undefined)).toBeUndefined();
  });
});
