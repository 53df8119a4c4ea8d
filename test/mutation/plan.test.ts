// The pure half of a step (src/app/plan.ts), the snapshot it reads (snapshot.ts)
// and the state object it stores (state-store.ts).
import { describe, expect, it } from '@jest/globals';
import { fetchesFor, planStep, selectTrigger, type Selection } from '../../src/app/plan.js';
import { readSnapshot, type Snapshot } from '../../src/app/snapshot.js';
import { readStateObject, renderStateObject } from '../../src/app/state-store.js';
import type { FetchOutcome } from '../../src/charm/context.js';
import { step } from '../../src/charm/step.js';
import { initialState, type CharmState } from '../../src/charm/state.js';
import type { KubeObject, PushEvent } from '../../src/domain/types.js';
import { TargetError } from '../../src/errors.js';
import { parseImageRef } from '../../src/image/reference.js';
import { parseTagPolicy } from '../../src/policy/tag-policy.js';
import { ownedLabels, workloadNames } from '../../src/render/names.js';
import { renderPullSecret } from '../../src/render/secrets.js';
import { memoryTarget } from './support/memory-target.js';

const image = parseImageRef('registry.example/kubeflow/metadata:1.0.0');
const options = { image, tagPolicy: parseTagPolicy('semver:^1', image.tag), setStatus: true };
const DIGEST = `sha256:${'a'.repeat(64)}`;
const fetched: Record<string, FetchOutcome> = { 'oci-image': { ok: true, info: { registryPath: `registry.example/kubeflow/metadata@${DIGEST}`, digest: DIGEST, tag: '1.0.0' } } };
const MYSQL = { host: 'mysql', port: 3306, user: 'root', password: 'plan-pw' };
const started = (): CharmState => step(undefined, { hook: 'config-changed', mysql: MYSQL, fetched, live: {}, setStatus: true }).state;
const snapshotOf = (state: CharmState | undefined, live: Snapshot['live'] = {}): Snapshot => ({ state, objects: new Map(), live });
const push = (tag: string, n: number): PushEvent => ({ provider: 'generic', repository: 'kubeflow/metadata', tag, digest: `sha256:${n.toString(16).padStart(64, '0')}` });

describe('selectTrigger', () => {
  it('a config change always acts, ignoring nothing', () => {
    expect(selectTrigger({ hook: 'config-changed', config: { port: 1 } }, snapshotOf(started()), options)).toStrictEqual({ hook: 'config-changed', ignored: [], skip: false });
  });

  it('a refresh acts with its tag', () => {
    expect(selectTrigger({ hook: 'upgrade-charm', tag: '1.4.0' }, snapshotOf(started()), options)).toStrictEqual({ hook: 'upgrade-charm', tag: '1.4.0', ignored: [], skip: false });
  });

  it('pushes act through the newest acceptable one, against what is deployed', () => {
    const selection = selectTrigger({ hook: 'upgrade-charm', pushes: [push('1.1.0', 1), push('2.0.0', 2)] }, snapshotOf(started()), options);
    expect(selection).toEqual({ hook: 'upgrade-charm', push: push('1.1.0', 1), ignored: ['kubeflow/metadata:2.0.0: tag outside the policy'], skip: false });
  });

  it('pushes with nothing acceptable skip; before any state they are not compared with anything', () => {
    expect(selectTrigger({ hook: 'upgrade-charm', pushes: [push('2.0.0', 2)] }, snapshotOf(undefined), options)).toMatchObject({ skip: true, push: undefined });
    expect(selectTrigger({ hook: 'upgrade-charm', pushes: [push('1.0.0', 1)] }, snapshotOf(undefined), options)).toMatchObject({ skip: false });
  });
});

describe('fetchesFor', () => {
  const selection = (skip: boolean): Selection => ({ hook: 'upgrade-charm', ignored: [], skip });

  it('nothing when skipping', () => {
    expect(fetchesFor(selection(true), snapshotOf(undefined))).toStrictEqual([]);
  });

  it('the layer’s plan otherwise, from the initial state before the first step', () => {
    expect(fetchesFor(selection(false), snapshotOf(undefined))).toEqual(['oci-image']);
    expect(fetchesFor({ ...selection(false), hook: 'config-changed' }, snapshotOf(started(), { mysqlPassword: 'plan-pw' }))).toEqual([]);
  });
});

describe('planStep', () => {
  const skip: Selection = { hook: 'upgrade-charm', ignored: ['x'], skip: true };

  it('skipping before any state: the initial state, maintenance, no workload', () => {
    const planned = planStep({ hook: 'upgrade-charm', pushes: [] }, skip, snapshotOf(undefined), {}, options);
    expect(planned).toStrictEqual({ state: initialState(), desired: {}, status: { state: 'maintenance', message: '' }, statusHistory: [], flags: [], trace: [] });
  });

  it('skipping with a state: it stands, with its status and the standing workload', () => {
    const state = started();
    const planned = planStep({ hook: 'upgrade-charm', pushes: [] }, skip, snapshotOf(state, { mysqlPassword: 'plan-pw' }), {}, options);
    expect(planned.state).toBe(state);
    expect(planned.status).toEqual({ state: 'active', message: '' });
    expect(planned.flags).toEqual(state.flags);
    expect(planned.statusHistory).toStrictEqual([]);
    expect(planned.trace).toStrictEqual([]);
    expect(planned.desired.podSpec?.image.digest).toBe(DIGEST);
    expect(planned.desired.mysqlPassword).toBe('plan-pw');
  });

  it('a config change hands its config and relation to the step', () => {
    const selection: Selection = { hook: 'config-changed', ignored: [], skip: false };
    const planned = planStep({ hook: 'config-changed', config: { port: 9090 }, mysql: MYSQL }, selection, snapshotOf(undefined), fetched, options);
    expect(planned.state.config.port).toBe(9090);
    expect(planned.state.mysql).toEqual({ host: 'mysql', port: 3306, user: 'root' });
    expect(planned.status).toEqual({ state: 'active', message: '' });
    expect(planned.trace).toContain('charm.start');
    expect(planned.flags).toContain('config.changed.port');
  });

  it('an upgrade hands no config or relation, even if the trigger object carried some', () => {
    const state = started();
    const selection: Selection = { hook: 'upgrade-charm', ignored: [], skip: false };
    const odd = { hook: 'upgrade-charm', config: { port: 9999 }, mysql: null } as never;
    const planned = planStep(odd, selection, snapshotOf(state, { mysqlPassword: 'plan-pw' }), fetched, options);
    expect(planned.state.config.port).toBe(8080);
    expect(planned.state.mysql).toEqual(state.mysql);
  });

  it('passes set-status on', () => {
    const selection: Selection = { hook: 'config-changed', ignored: [], skip: false };
    const planned = planStep({ hook: 'config-changed', mysql: MYSQL }, selection, snapshotOf(undefined), fetched, { ...options, setStatus: false });
    expect(planned.statusHistory.map((s) => s.message)).not.toContain('fetching resource: oci-image');
  });
});

describe('readSnapshot', () => {
  it('reads the state and the live Secrets’ values', async () => {
    const names = workloadNames('kubeflow-metadata');
    const target = memoryTarget();
    const state = started();
    target.put(renderStateObject(state, { app: 'kubeflow-metadata', namespace: 'kubeflow', name: names.state }));
    target.put({ apiVersion: 'v1', kind: 'Secret', metadata: { name: names.mysqlSecret }, data: { MYSQL_ROOT_PASSWORD: Buffer.from('live-pw').toString('base64') } });
    target.put(renderPullSecret({ app: 'kubeflow-metadata', namespace: 'kubeflow', name: names.pullSecret, registry: 'registry.example', credentials: { username: 'robot', password: 'token' } }));
    const snapshot = await readSnapshot(target, names, 'registry.example');
    expect(snapshot.state).toEqual(state);
    expect(snapshot.live.mysqlPassword).toBe('live-pw');
    expect(snapshot.live.registryCredentials).toEqual({ username: 'robot', password: 'token' });
    expect([...snapshot.objects.keys()]).toEqual([`ConfigMap/${names.state}`, `Secret/${names.mysqlSecret}`, `Secret/${names.pullSecret}`, `Service/${names.service}`, `Deployment/${names.deployment}`]);
  });
});

describe('the state ConfigMap', () => {
  const object = (data: unknown): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 's' }, data } as KubeObject);

  it('is a v1 ConfigMap with the owned labels and one key', () => {
    const rendered = renderStateObject(initialState(), { app: 'a', namespace: 'n', name: 's' });
    expect(rendered).toMatchObject({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 's', namespace: 'n', labels: ownedLabels('a') } });
    expect(Object.keys(rendered.data as object)).toEqual(['state.json']);
  });

  it('without data at all it is unreadable, naming the missing key', () => {
    expect(() => readStateObject(object(undefined))).toThrow(TargetError);
    expect(() => readStateObject(object(undefined))).toThrow('(no state.json key)');
  });

  it('names the path and zod’s words, without the "Invalid input: " prefix', () => {
    const bad = { ...initialState(), status: { state: 'sleeping', message: '' } };
    let message = '';
    try {
      readStateObject(object({ 'state.json': JSON.stringify(bad) }));
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/\(state\.json\.status\.state: /);
    expect(message).not.toContain('Invalid input');
    expect(message).toMatch(/restore it, or delete it and send the config again$/);
  });
});
