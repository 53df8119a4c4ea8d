// Kubernetes Events and the change-cause annotation (src/record/*). The texts are
// pure and checked first; then, on a REAL control plane (test/support/control-plane.ts),
// the recorder writes events.k8s.io/v1 Events as the identity deploy/rbac.yaml binds,
// and the admin reads them the way operators do: `kubectl get events` (the core v1
// view of the same objects), `kubectl describe deployment`, `kubectl rollout history`.
// The deployer's writes are counted in the audit log: one create per Event, and
// the verbs it was not given (core-group events, reading Events) are refused.
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { createEventRecorder, eventNote, microTime, renderEvent, type DeployerEvent } from '../src/record/events.js';
import { CHANGE_CAUSE_ANNOTATION, changeCause, describeTrigger, type Trigger } from '../src/record/trigger.js';
import { createLogger } from '../src/log.js';
import { startControlPlane, type ControlPlane } from './support/control-plane.js';

jest.setTimeout(120_000);
const NS = 'kubeflow';
const APP = 'kubeflow-metadata';
const OLD = `registry.example:5000/kubeflow/metadata@sha256:${'a'.repeat(64)}`;
const NEW = `registry.example:5000/kubeflow/metadata@sha256:${'b'.repeat(64)}`;
const push: Trigger = { provider: 'distribution', eventId: 'evt-0001', tag: '1.2.1', digest: `sha256:${'b'.repeat(64)}`, from: OLD, to: NEW };

describe('the texts (pure)', () => {
  it('describeTrigger: old → new, then provider, event id, tag, digest; unknown parts left out', () => {
    expect(describeTrigger(push)).toBe(`${OLD} → ${NEW} (provider distribution, event evt-0001, tag 1.2.1, digest sha256:${'b'.repeat(64)})`);
    expect(describeTrigger({ provider: 'control' })).toBe('(provider control)');
    expect(describeTrigger({ to: NEW })).toBe(`→ ${NEW}`);
    expect(describeTrigger({})).toBe('');
  });

  it('changeCause: one bounded line, control characters flattened', () => {
    expect(changeCause('ImageUpdated', push)).toBe(`ImageUpdated: ${describeTrigger(push)}`);
    const hostile = changeCause('Pinned\nby\tcontrol', { provider: 'control', tag: `x\u0000y\u2028${'z'.repeat(600)}` });
    expect(hostile).toMatch(/^Pinned by control: \(provider control, tag x y z+…\)$/);
    expect(hostile.length).toBeLessThanOrEqual(512);
  });

  it('eventNote: summary; trigger — cut to 1024 bytes without splitting a character', () => {
    expect(eventNote({ summary: 'rollout failed: pod x CrashLoopBackOff', trigger: push })).toBe(`rollout failed: pod x CrashLoopBackOff; ${describeTrigger(push)}`);
    const long = eventNote({ summary: '€'.repeat(500), trigger: { tag: '€'.repeat(300), from: 'é'.repeat(300), to: 'ü'.repeat(300) } });
    expect(Buffer.byteLength(long)).toBeLessThanOrEqual(1024);
    expect(long.endsWith('…')).toBe(true);
    expect(long).not.toContain('\uFFFD');
  });

  it('renderEvent: events.k8s.io/v1, MicroTime, Warning for failures, action from the reason', () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    expect(microTime(at)).toBe('2026-01-02T03:04:05.678000Z');
    const event = renderEvent({ reason: 'Reverted', trigger: push }, { namespace: NS, regarding: { name: APP, uid: 'u-1' }, reportingInstance: 'fn', now: at, suffix: 'abc' });
    expect(event).toEqual({
      apiVersion: 'events.k8s.io/v1', kind: 'Event', metadata: { name: `${APP}.abc`, namespace: NS }, eventTime: '2026-01-02T03:04:05.678000Z',
      reportingController: 'kubeflow-metadata-deployer', reportingInstance: 'fn', action: 'Revert', reason: 'Reverted', type: 'Warning',
      note: describeTrigger(push), regarding: { apiVersion: 'apps/v1', kind: 'Deployment', namespace: NS, name: APP, uid: 'u-1' },
    });
    expect(renderEvent({ reason: 'Pinned' }, { namespace: NS, regarding: { name: APP }, reportingInstance: 'fn', now: at, suffix: 'x' }))
      .toMatchObject({ type: 'Normal', action: 'Pin', note: '' });
  });
});

describe('on a real API server, as the deployer', () => {
  let cp: ControlPlane;
  const lines: string[] = [];
  const logger = createLogger((line) => lines.push(line));
  const recorder = (namespace = NS) => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(cp.deployerKubeconfig);
    return createEventRecorder({ kubeConfig, namespace, deployment: APP, reportingInstance: 'e2e-events', logger, deadline: () => 30_000 });
  };
  const deployment = (image: string, cause?: string) => JSON.stringify({
    apiVersion: 'apps/v1', kind: 'Deployment',
    metadata: { name: APP, namespace: NS, ...(cause ? { annotations: { [CHANGE_CAUSE_ANNOTATION]: cause } } : {}) },
    spec: { replicas: 1, selector: { matchLabels: { 'app.kubernetes.io/name': APP } },
      template: { metadata: { labels: { 'app.kubernetes.io/name': APP } }, spec: { containers: [{ name: 'metadata', image }] } } },
  });
  async function admin(args: string[], input?: string): Promise<string> {
    const { code, stdout, stderr } = await cp.kubectl(args, { input });
    if (code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${stderr}`);
    return stdout;
  }

  beforeAll(async () => {
    cp = await startControlPlane();
    await cp.applyDeployerRbac();
    await admin(['apply', '-f', '-'], deployment(OLD, changeCause('ImageUpdated', { provider: 'distribution', eventId: 'evt-0000', to: OLD })));
  }, 90_000);
  afterAll(() => cp?.stop());

  const story: DeployerEvent[] = [
    { reason: 'ImageUpdated', trigger: push },
    { reason: 'RolloutFailed', summary: 'rollout failed: pod kubeflow-metadata-5d9c7b8f4-x2x2x CrashLoopBackOff', trigger: push },
    { reason: 'Reverted', summary: 'reverted to the last available image', trigger: { ...push, from: NEW, to: OLD } },
    { reason: 'Quarantined', summary: `sha256:${'b'.repeat(64)} quarantined: pod kubeflow-metadata-5d9c7b8f4-x2x2x CrashLoopBackOff`, trigger: push },
    { reason: 'Pinned', trigger: { provider: 'control', eventId: 'evt-0002', tag: '1.0.0' } },
    { reason: 'Unpinned', trigger: { provider: 'control', eventId: 'evt-0003' } },
    { reason: 'Suspended', trigger: { provider: 'control', eventId: 'evt-0004' } },
    { reason: 'Resumed', trigger: { provider: 'control', eventId: 'evt-0005' } },
    { reason: 'ConfigApplied', trigger: { provider: 'config', eventId: 'evt-0006', from: 'port 8080', to: 'port 9090' } },
    { reason: 'RolloutComplete', trigger: { provider: 'rollout', to: OLD } },
  ];

  it('every reason is written; `kubectl get events` and `kubectl describe deployment` tell the story, in order', async () => {
    const uid = JSON.parse(await admin(['-n', NS, 'get', 'deployment', APP, '-o', 'json'])).metadata.uid as string;
    const events = recorder();
    const names: string[] = [];
    for (const event of story) {
      const outcome = await events.record(event, { uid });
      expect(outcome).toMatchObject({ ok: true, name: expect.stringMatching(new RegExp(`^${APP}\\.[0-9a-f]+$`)) });
      if (outcome.ok) names.push(outcome.name);
    }

    // In the order written (two Events may share a millisecond, so not sorted by eventTime).
    const mine = new Map<string, any>(JSON.parse(await admin(['-n', NS, 'get', 'events', '-o', 'json'])).items
      .filter((e: any) => e.reportingComponent === 'kubeflow-metadata-deployer').map((e: any) => [e.metadata.name, e]));
    const core = names.map((name) => mine.get(name));
    expect(mine.size).toBe(story.length);
    expect(core.map((e: any) => [e.reason, e.type, e.action, e.message])).toEqual(story.map((e) => [
      e.reason, ['RolloutFailed', 'Reverted', 'Quarantined'].includes(e.reason) ? 'Warning' : 'Normal', expect.any(String), eventNote(e)]));
    for (const e of core) {
      expect(e.involvedObject).toMatchObject({ kind: 'Deployment', name: APP, namespace: NS, uid });
      expect(e.reportingInstance).toBe('e2e-events');
    }

    const table = await admin(['-n', NS, 'get', 'events']);
    expect(table).toMatch(/Warning\s+RolloutFailed\s+deployment\/kubeflow-metadata\s+rollout failed: pod kubeflow-metadata-5d9c7b8f4-x2x2x CrashLoopBackOff; /);
    expect(table).toMatch(/Normal\s+ImageUpdated\s+deployment\/kubeflow-metadata\s+registry\.example:5000\/kubeflow\/metadata@sha256:a+ → /);
    const described = await admin(['-n', NS, 'describe', 'deployment', APP]);
    for (const { reason } of story) expect(described).toContain(reason);

    const writes = await cp.writeRequests();
    expect(writes.map((w) => [w.verb, w.objectRef?.apiGroup, w.objectRef?.resource, w.responseStatus?.code]))
      .toEqual(story.map(() => ['create', 'events.k8s.io', 'events', 201]));
  });

  it('exactly the verbs granted: core-group events and reading Events are refused; a refused Event is reported, never thrown', async () => {
    const core = await cp.request('POST', `/api/v1/namespaces/${NS}/events`, { as: 'deployer', body: {
      apiVersion: 'v1', kind: 'Event', metadata: { name: 'x.1' }, involvedObject: { kind: 'Deployment', name: APP, namespace: NS }, reason: 'X', message: 'x' } });
    expect(core.status).toBe(403);
    expect((await cp.request('GET', `/apis/events.k8s.io/v1/namespaces/${NS}/events`, { as: 'deployer' })).status).toBe(403);
    lines.length = 0;
    const refused = await recorder('default').record({ reason: 'Pinned', trigger: { provider: 'control' } });
    expect(refused).toEqual({ ok: false, reason: 'Pinned', error: expect.stringMatching(/^403 Forbidden: events\.events\.k8s\.io is forbidden: User "kubeflow-metadata-deployer" cannot create resource "events" in API group "events\.k8s\.io" in the namespace "default"/) });
    expect(lines.map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ level: expect.stringMatching(/^warn$/i), message: 'kubernetes event not recorded', reason: 'Pinned' })]);
  });

  it('the change-cause annotation written with the template change shows in `kubectl rollout history`', async () => {
    const cause = changeCause('ImageUpdated', push);
    await admin(['apply', '-f', '-'], deployment(NEW, cause));
    let history = '';
    for (const end = Date.now() + 30_000; !history.includes(cause) && Date.now() < end; await new Promise((r) => setTimeout(r, 250))) {
      history = await admin(['-n', NS, 'rollout', 'history', `deployment/${APP}`]);
    }
    expect(history).toContain(`1         ImageUpdated: → ${OLD} (provider distribution, event evt-0000)`);
    expect(history).toContain(`2         ${cause}`);
  });
});
