// The rollout verdict (src/rollout/verdict.ts) on fixtures shaped like the API's
// answers (run through the same zod schemas the watcher uses), its invariants
// with fast-check, and the watcher (src/rollout/watch.ts) against a scripted API
// on 127.0.0.1 through the real transport: it stops at the verdict or at the
// deadline, survives transient answers, names final ones, and leaves no timer
// or socket behind. The real control plane's rollouts are test/e2e-rollout.test.ts.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import fc from 'fast-check';
import { deploymentSchema, podSchema, replicaSetSchema, type Deployment, type Pod, type ReplicaSet } from '../src/rollout/objects.js';
import { FAILURE_REASONS, newPods, rolloutVerdict } from '../src/rollout/verdict.js';
import { watchRollout } from '../src/rollout/watch.js';

const NEW_HASH = '7d9f8c6b5';
const OLD_HASH = '5c4b3a291';
const IMAGE = 'registry.example/kubeflow/metadata@sha256:' + 'b'.repeat(64);
const OLD_IMAGE = 'registry.example/kubeflow/metadata@sha256:' + 'a'.repeat(64);

interface Counts { generation?: number; observed?: number; replicas?: number; updated?: number; total?: number; available?: number }
function deployment(counts: Counts = {}, conditions: object[] = []): Deployment {
  const { generation = 2, observed = generation, replicas = 1, updated = replicas, total = updated, available = updated } = counts;
  return deploymentSchema().parse({
    metadata: { name: 'kubeflow-metadata', uid: 'dep-uid', generation, annotations: { 'deployment.kubernetes.io/revision': '2' } },
    spec: { replicas, progressDeadlineSeconds: 300, template: { spec: { containers: [{ name: 'metadata', image: IMAGE }] } } },
    status: { observedGeneration: observed, replicas: total, updatedReplicas: updated, availableReplicas: available, conditions },
  });
}
const replicaSets = (): ReplicaSet[] => [
  { revision: '1', hash: OLD_HASH }, { revision: '2', hash: NEW_HASH },
].map(({ revision, hash }) => replicaSetSchema().parse({ metadata: {
  name: `kubeflow-metadata-${hash}`, labels: { 'pod-template-hash': hash },
  annotations: { 'deployment.kubernetes.io/revision': revision }, ownerReferences: [{ kind: 'Deployment', uid: 'dep-uid' }],
} }));
type Behaviour = 'ready' | 'running-not-ready' | 'pending' | 'unschedulable' | string; // else: a waiting reason
function pod(suffix: string, behaviour: Behaviour, old = false): Pod {
  const hash = old ? OLD_HASH : NEW_HASH;
  const ready = behaviour === 'ready';
  const waiting = ['ready', 'running-not-ready', 'pending', 'unschedulable'].includes(behaviour) ? undefined : behaviour;
  return podSchema().parse({
    metadata: { name: `kubeflow-metadata-${hash}-${suffix}`, labels: { 'app.kubernetes.io/name': 'kubeflow-metadata', 'pod-template-hash': hash } },
    spec: { containers: [{ name: 'metadata', image: old ? OLD_IMAGE : IMAGE }] },
    status: {
      phase: behaviour === 'pending' || behaviour === 'unschedulable' ? 'Pending' : 'Running',
      conditions: behaviour === 'unschedulable'
        ? [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable' }]
        : [{ type: 'Ready', status: ready ? 'True' : 'False' }],
      containerStatuses: behaviour === 'unschedulable' ? undefined : [{
        name: 'metadata', image: old ? OLD_IMAGE : IMAGE, ready,
        state: waiting ? { waiting: { reason: waiting, message: `back-off\n restarting  ${waiting}` } } : { running: {} },
      }],
    },
  });
}
const DEADLINE = { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'ReplicaSet "kubeflow-metadata-7d9f8c6b5" has timed out progressing.' };

describe('rolloutVerdict on fixtures', () => {
  it('complete when every replica is updated and available and no old one is left', () => {
    const pods = [pod('a', 'ready'), pod('b', 'ready')];
    expect(rolloutVerdict({ deployment: deployment({ replicas: 2 }), pods, replicaSets: replicaSets() })).toEqual({ state: 'complete' });
    expect(rolloutVerdict({ deployment: deployment({ replicas: 0 }), pods: [] })).toEqual({ state: 'complete' });
  });

  it('progressing, saying what it waits for, while counts are short or old replicas remain', () => {
    const v = (c: Counts) => rolloutVerdict({ deployment: deployment(c), pods: [pod('a', 'running-not-ready')], replicaSets: replicaSets() });
    expect(v({ generation: 3, observed: 2 })).toEqual({ state: 'progressing', reason: 'waiting for the Deployment controller to observe generation 3' });
    expect(v({ replicas: 2, updated: 1 })).toMatchObject({ state: 'progressing', reason: expect.stringMatching(/^1 of 2 updated replicas \(pod kubeflow-metadata-7d9f8c6b5-a Running, not Ready\)$/) });
    expect(v({ replicas: 1, updated: 1, total: 2 })).toMatchObject({ reason: expect.stringMatching(/^1 old replicas pending termination/) });
    expect(v({ replicas: 1, updated: 1, available: 0 })).toMatchObject({ reason: expect.stringMatching(/^0 of 1 updated replicas available/) });
  });

  it.each(['CrashLoopBackOff', 'ImagePullBackOff', 'ErrImagePull', 'CreateContainerConfigError'])('failed naming the pod and %s', (reason) => {
    const pods = [pod('ok', 'ready', true), pod('b', 'ready'), pod('a', reason)];
    const verdict = rolloutVerdict({ deployment: deployment({ replicas: 2, updated: 2, total: 3, available: 2 }), pods, replicaSets: replicaSets() });
    expect(verdict).toEqual({ state: 'failed', reason: `pod kubeflow-metadata-${NEW_HASH}-a ${reason}`, message: `back-off restarting ${reason}` });
  });

  it('a failing pod of the OLD ReplicaSet is not this rollout\'s failure', () => {
    const pods = [pod('old', 'CrashLoopBackOff', true), pod('a', 'ready')];
    expect(rolloutVerdict({ deployment: deployment({ updated: 1, total: 2 }), pods, replicaSets: replicaSets() }).state).toBe('progressing');
    // Without ReplicaSets the image tells them apart.
    expect(rolloutVerdict({ deployment: deployment({ updated: 1, total: 2 }), pods }).state).toBe('progressing');
    expect(rolloutVerdict({ deployment: deployment({ updated: 1, total: 2 }), pods: [pod('a', 'ErrImagePull')] }).state).toBe('failed');
  });

  it('ProgressDeadlineExceeded fails, naming the pod that never got Ready', () => {
    const verdict = rolloutVerdict({ deployment: deployment({ available: 0 }, [DEADLINE]), pods: [pod('a', 'running-not-ready')], replicaSets: replicaSets() });
    expect(verdict).toEqual({ state: 'failed', reason: `ProgressDeadlineExceeded: pod kubeflow-metadata-${NEW_HASH}-a Running, not Ready`, message: DEADLINE.message });
    const unscheduled = rolloutVerdict({ deployment: deployment({ available: 0 }, [DEADLINE]), pods: [pod('a', 'unschedulable')], replicaSets: replicaSets() });
    expect(unscheduled.reason).toBe(`ProgressDeadlineExceeded: pod kubeflow-metadata-${NEW_HASH}-a Unschedulable`);
    const refused = { type: 'ReplicaFailure', status: 'True', reason: 'FailedCreate', message: 'pods "x" is forbidden: violates PodSecurity' };
    expect(rolloutVerdict({ deployment: deployment({ updated: 0, available: 0 }, [DEADLINE, refused]), pods: [], replicaSets: replicaSets() }))
      .toEqual({ state: 'failed', reason: 'ProgressDeadlineExceeded: FailedCreate', message: refused.message });
  });

  it('since: a ProgressDeadlineExceeded last updated at or before the write is the previous rollout\'s (a revert), a later one counts', () => {
    const stale = { ...DEADLINE, lastUpdateTime: '2026-01-01T00:00:10Z' };
    const observation = { deployment: deployment({ available: 0 }, [stale]), pods: [pod('a', 'running-not-ready')], replicaSets: replicaSets() };
    expect(rolloutVerdict(observation, { since: '2026-01-01T00:00:10Z' }).state).toBe('progressing');
    expect(rolloutVerdict(observation, { since: '2026-01-01T00:00:09Z' }).state).toBe('failed');
    expect(rolloutVerdict(observation).state).toBe('failed');
  });

  it('a deadline or counts of an older generation decide nothing', () => {
    expect(rolloutVerdict({ deployment: deployment({ generation: 3, observed: 2, available: 0 }, [DEADLINE]), pods: [pod('a', 'CrashLoopBackOff')] }).state).toBe('progressing');
  });

  it('new pods: by the newest ReplicaSet\'s hash; none known when that ReplicaSet is not listed yet; terminating ones left out', () => {
    const gone = { ...pod('c', 'ready'), metadata: { ...pod('c', 'ready').metadata, deletionTimestamp: '2026-01-01T00:00:00Z' } };
    const pods = [pod('a', 'ready'), pod('b', 'ready', true), gone];
    expect(newPods({ deployment: deployment(), pods, replicaSets: replicaSets() }).map((p) => p.metadata.name)).toEqual([`kubeflow-metadata-${NEW_HASH}-a`]);
    expect(newPods({ deployment: deployment(), pods, replicaSets: replicaSets().slice(0, 1) })).toEqual([]);
  });
});

describe('rolloutVerdict invariants (fast-check)', () => {
  const count = fc.integer({ min: 0, max: 4 });
  const behaviour = fc.constantFrom('ready', 'running-not-ready', 'pending', 'unschedulable', 'ContainerCreating', ...FAILURE_REASONS);
  const arbitrary = fc.record({
    generation: fc.integer({ min: 1, max: 5 }), observed: fc.option(fc.integer({ min: 0, max: 6 }), { nil: undefined }),
    replicas: count, updated: count, total: count, available: count, deadline: fc.boolean(), withReplicaSets: fc.boolean(),
    pods: fc.array(fc.record({ behaviour, old: fc.boolean() }), { maxLength: 5 }),
  }).map((a) => {
    const d = deployment({ generation: a.generation, replicas: a.replicas, updated: a.updated, total: a.total, available: a.available }, a.deadline ? [DEADLINE] : []);
    d.status!.observedGeneration = a.observed;
    const pods = a.pods.map((p, i) => pod(String(i), p.behaviour, p.old));
    return { a, observation: { deployment: d, pods, replicaSets: a.withReplicaSets ? replicaSets() : undefined } };
  });

  it('never complete (nor failed) while observedGeneration < generation', () => {
    fc.assert(fc.property(arbitrary, ({ a, observation }) => {
      if (a.observed !== undefined && a.observed >= a.generation) return;
      expect(rolloutVerdict(observation).state).toBe('progressing');
    }));
  });

  it('complete only when updated = replicas = available = spec.replicas, and no new pod is failing', () => {
    fc.assert(fc.property(arbitrary, ({ a, observation }) => {
      if (rolloutVerdict(observation).state !== 'complete') return;
      expect([a.updated, a.total, a.available]).toEqual([a.replicas, a.replicas, a.replicas]);
      expect(a.deadline).toBe(false);
      expect(a.pods.some((p) => !p.old && FAILURE_REASONS.has(p.behaviour))).toBe(false);
    }));
  });

  it('failed exactly when observed and (a new pod fails or the deadline passed); old pods never matter', () => {
    fc.assert(fc.property(arbitrary, ({ a, observation }) => {
      const observed = a.observed !== undefined && a.observed >= a.generation;
      const newFailing = a.pods.some((p) => !p.old && FAILURE_REASONS.has(p.behaviour));
      const verdict = rolloutVerdict(observation);
      expect(verdict.state === 'failed').toBe(observed && (newFailing || a.deadline));
      if (verdict.state === 'failed' && newFailing) expect(verdict.reason).toMatch(new RegExp(`^pod kubeflow-metadata-${NEW_HASH}-\\d+ (${[...FAILURE_REASONS].join('|')})$`));
      const withoutOld = { ...observation, pods: observation.pods.filter((p) => p.metadata.labels?.['pod-template-hash'] === NEW_HASH) };
      expect(rolloutVerdict(withoutOld)).toEqual(verdict);
    }));
  });
});

/** A scripted API server: each GET answers from `answer(path)`; every request is recorded. */
function scriptedApi(answer: (path: string) => { status: number; body: unknown }) {
  const paths: string[] = [];
  const server: Server = createServer((req: IncomingMessage, res) => {
    paths.push(req.url ?? '');
    const { status, body } = answer(req.url ?? '');
    res.writeHead(status, { 'content-type': 'application/json' }).end(typeof body === 'string' ? body : JSON.stringify(body));
  });
  return { server, paths };
}
function kubeConfigFor(server: Server): KubeConfig {
  const kc = new KubeConfig();
  const { port } = server.address() as AddressInfo;
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: `http://127.0.0.1:${port}`, skipTLSVerify: true }], users: [{ name: 'u', token: 'scripted-api-token' }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }], currentContext: 'x',
  });
  return kc;
}

describe('watchRollout against a scripted API', () => {
  let state: { deployment: unknown; pods: unknown[]; deploymentStatus?: number } = { deployment: {}, pods: [] };
  const api = scriptedApi((path) => {
    if (path.startsWith('/apis/apps/v1/namespaces/kubeflow/deployments/kubeflow-metadata')) return { status: state.deploymentStatus ?? 200, body: state.deploymentStatus ? { reason: 'Forbidden', message: 'deployments "kubeflow-metadata" is forbidden' } : state.deployment };
    if (path === '/api/v1/namespaces/kubeflow/pods?labelSelector=app.kubernetes.io%2Fname%3Dkubeflow-metadata') return { status: 200, body: { items: state.pods } };
    if (path === '/apis/apps/v1/namespaces/kubeflow/replicasets?labelSelector=app.kubernetes.io%2Fname%3Dkubeflow-metadata') return { status: 200, body: { items: replicaSets() } };
    return { status: 404, body: { reason: 'NotFound' } };
  });
  let kubeConfig: KubeConfig;
  beforeAll(async () => {
    await new Promise<void>((r) => api.server.listen(0, '127.0.0.1', r));
    kubeConfig = kubeConfigFor(api.server);
  });
  afterAll(async () => {
    api.server.closeAllConnections();
    await new Promise((r) => api.server.close(r));
  });
  const timers = () => process.getActiveResourcesInfo().filter((t) => t === 'Timeout').length;
  const base = () => ({ kubeConfig, namespace: 'kubeflow', app: 'kubeflow-metadata', intervalMs: 50, marginMs: 100 });
  /** A clock that runs out, as Lambda's remaining time does. */
  const budget = (ms: number) => { const end = Date.now() + ms; return () => end - Date.now(); };

  it('returns the verdict as soon as it is reached, with no timer left', async () => {
    let polls = 0;
    state = { deployment: deployment({ available: 0 }), pods: [pod('a', 'running-not-ready')] };
    const before = timers();
    const result = await watchRollout({ ...base(), deadline: budget(10_000), onPoll: () => {
      if (++polls === 3) state = { deployment: deployment(), pods: [pod('a', 'ready')] };
    } });
    expect(result).toMatchObject({ state: 'complete', outOfTime: false, polls: 4, uid: 'dep-uid', generation: 2, observedGeneration: 2 });
    expect(timers()).toBeLessThanOrEqual(before);
  });

  it('stops at the deadline minus the margin, still progressing, and says so', async () => {
    state = { deployment: deployment({ available: 0 }), pods: [pod('a', 'running-not-ready')] };
    const end = Date.now() + 1500;
    const before = timers();
    const result = await watchRollout({ ...base(), marginMs: 500, deadline: () => end - Date.now() });
    expect(result).toMatchObject({ state: 'progressing', outOfTime: true, reason: expect.stringMatching(/^0 of 1 updated replicas available/) });
    expect(Date.now()).toBeLessThanOrEqual(end - 400);
    expect(result.polls).toBeGreaterThan(1);
    expect(timers()).toBeLessThanOrEqual(before);
    expect((await watchRollout({ ...base(), deadline: () => 200 })).polls).toBe(0); // no time for a poll
  });

  it('an abort stops it between polls (outOfTime false)', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 200);
    const result = await watchRollout({ ...base(), intervalMs: 5000, deadline: budget(60_000), signal: controller.signal });
    expect(result).toMatchObject({ state: 'progressing', outOfTime: false, polls: 1 });
  });

  it('lists ReplicaSets only when asked; a final answer throws naming the request, a transient one is retried', async () => {
    state = { deployment: deployment(), pods: [pod('a', 'ready')] };
    api.paths.length = 0;
    await watchRollout({ ...base(), replicaSets: false, deadline: budget(5000) });
    expect(api.paths.some((p) => p.includes('replicasets'))).toBe(false);
    state = { ...state, deploymentStatus: 403 };
    await expect(watchRollout({ ...base(), deadline: budget(5000) })).rejects.toThrow(
      'get Deployment kubeflow/kubeflow-metadata failed: 403 Forbidden: deployments "kubeflow-metadata" is forbidden');
    state = { ...state, deploymentStatus: 503 };
    const end = Date.now() + 800;
    const flaky = await watchRollout({ ...base(), deadline: () => end - Date.now() });
    expect(flaky).toMatchObject({ state: 'progressing', outOfTime: true, reason: 'API not answering (get Deployment kubeflow/kubeflow-metadata: 503)' });
    state = { deployment: '{"metadata": {"generation": "two"}, "secret": "x"', pods: [] };
    await expect(watchRollout({ ...base(), deadline: budget(5000) })).rejects.toThrow(/failed: malformed response$/);
    state = { deployment: { metadata: { generation: 'two' } }, pods: [] };
    await expect(watchRollout({ ...base(), deadline: budget(5000) })).rejects.toThrow(/failed: unexpected answer at metadata.generation$/);
  });
});
