// Rollout verdicts (src/rollout/watch.ts + verdict.ts) proven on a REAL control plane
// (test/support/control-plane.ts): real Deployment and ReplicaSet controllers, real
// conditions (ProgressDeadlineExceeded), pods whose fate kwok stages decide.
//
// The stages are kwok.x-k8s.io/v1alpha1 Stage objects: control-plane.ts runs its kwok
// with --enable-crds=Stage (it watches Stages, so a test can add one) and has already
// applied kwok's default stages as Stage objects; this file adds (cp.createStage) three
// behaviour stages keyed on the pod label kfm-test/behaviour, for the pods on the
// control plane's one kwok node (weight 1, so they win over the default pod-ready,
// whose weight is 0):
//   crashloop          Running, container waiting CrashLoopBackOff (restartCount 3)
//   image-pull-backoff Pending, container waiting ImagePullBackOff
//   never-ready        Running, container running but never Ready (a failing readiness probe)
//   (no label)         kwok's pod-ready: Running and Ready
// and one keyed on the image instead of a label (err-image-pull: pods running UNPULLABLE).
// Their templates carry no timestamps, so re-applying one is a no-op patch (no event,
// no loop). What kwok does not model: restarts counting up, back-off timing.
//
// The watcher runs as the identity deploy/rbac.yaml binds for the Deployment it may
// read (kubeflow-metadata), as admin for the others (their names are not granted).
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { watchRollout, type RolloutWatchResult } from '../src/rollout/watch.js';
import type { Verdict, VerdictOptions } from '../src/rollout/verdict.js';
import { DEPLOYER_USER, FAKE_NODE, startControlPlane, type ControlPlane } from './support/control-plane.js';

jest.setTimeout(240_000); // a loaded 2-core machine: control plane start, rollouts, a 10 s progress deadline
const NS = 'kubeflow';
const GOOD = 'registry.example/kubeflow/metadata@sha256:' + '1'.repeat(64);
const BAD = 'registry.example/kubeflow/metadata@sha256:' + '2'.repeat(64);
const OTHER = 'registry.example/kubeflow/metadata@sha256:' + '4'.repeat(64);
/** Pods running this image fail to pull it (ErrImagePull), whatever their labels. */
const UNPULLABLE = 'registry.example/kubeflow/metadata@sha256:' + '3'.repeat(64);

/**
 * A behaviour stage: pods labelled kfm-test/behaviour=<value> (or, with `image`, pods running that
 * image: a Deployment the deployer renders carries no test label) get `status`, a Go template over the pod.
 */
const behaviourStage = (value: string, status: string, image?: string) => ({
  apiVersion: 'kwok.x-k8s.io/v1alpha1', kind: 'Stage', metadata: { name: `kfm-test-${value}` },
  spec: {
    resourceRef: { apiGroup: 'v1', kind: 'Pod' }, weight: 1,
    selector: { matchExpressions: [
      image ? { key: '.spec.containers.[].image', operator: 'In', values: [image] }
        : { key: '.metadata.labels["kfm-test/behaviour"]', operator: 'In', values: [value] },
      { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' },
    ] },
    next: { statusTemplate: status },
  },
});
const notReady = `conditions:
- {type: Initialized, status: "True"}
- {type: Ready, status: "False", reason: ContainersNotReady}
- {type: ContainersReady, status: "False", reason: ContainersNotReady}
`;
const STAGES = [
  behaviourStage('crashloop', `${notReady}containerStatuses:
{{ range .spec.containers }}
- {name: {{ .name | Quote }}, image: {{ .image | Quote }}, ready: false, started: false, restartCount: 3,
   lastState: {terminated: {exitCode: 1, reason: Error}},
   state: {waiting: {reason: CrashLoopBackOff, message: "back-off 40s restarting failed container={{ .name }}"}}}
{{ end }}
phase: Running
`),
  behaviourStage('image-pull-backoff', `${notReady}containerStatuses:
{{ range .spec.containers }}
- {name: {{ .name | Quote }}, image: {{ .image | Quote }}, ready: false, started: false, restartCount: 0,
   state: {waiting: {reason: ImagePullBackOff, message: {{ printf "Back-off pulling image %q" .image | Quote }}}}}
{{ end }}
phase: Pending
`),
  behaviourStage('err-image-pull', `${notReady}containerStatuses:
{{ range .spec.containers }}
- {name: {{ .name | Quote }}, image: {{ .image | Quote }}, ready: false, started: false, restartCount: 0,
   state: {waiting: {reason: ErrImagePull, message: "manifest unknown"}}}
{{ end }}
phase: Pending
`, UNPULLABLE),
  behaviourStage('never-ready', `${notReady}containerStatuses:
{{ range .spec.containers }}
- {name: {{ .name | Quote }}, image: {{ .image | Quote }}, ready: false, started: true, restartCount: 0, state: {running: {}}}
{{ end }}
phase: Running
`),
];

let cp: ControlPlane;

async function admin(args: string[], input?: string): Promise<string> {
  const { code, stdout, stderr } = await cp.kubectl(args, { input });
  if (code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${stderr}`);
  return stdout;
}

/** A Deployment on the kwok node whose pods behave as `behaviour` says (undefined: Ready). */
function deployment(name: string, image: string, behaviour?: string, progressDeadlineSeconds = 60): string {
  const labels = { 'app.kubernetes.io/name': name, ...(behaviour ? { 'kfm-test/behaviour': behaviour } : {}) };
  return JSON.stringify({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: NS },
    spec: {
      replicas: 1, progressDeadlineSeconds, selector: { matchLabels: { 'app.kubernetes.io/name': name } },
      template: { metadata: { labels }, spec: { nodeSelector: { 'kubernetes.io/hostname': FAKE_NODE }, containers: [{ name: 'metadata', image }] } },
    },
  });
}

function kubeConfig(as: 'admin' | 'deployer'): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(as === 'deployer' ? cp.deployerKubeconfig : cp.adminKubeconfig);
  return kc;
}

/** Watches `app` as `as` for up to `ms`, recording every poll's verdict. */
async function watch(app: string, as: 'admin' | 'deployer', ms = 120_000, options: VerdictOptions = {}): Promise<RolloutWatchResult & { seen: Verdict[] }> {
  const seen: Verdict[] = [];
  const end = Date.now() + ms;
  const result = await watchRollout({ kubeConfig: kubeConfig(as), namespace: NS, app, deadline: () => end - Date.now(),
    marginMs: 0, intervalMs: 500, onPoll: (v) => seen.push(v), ...options });
  return { ...result, seen };
}

const hashes = async (app: string) => JSON.parse(await admin(['-n', NS, 'get', 'replicasets', '-l', `app.kubernetes.io/name=${app}`, '-o', 'json']))
  .items.map((rs: any) => ({ hash: rs.metadata.labels['pod-template-hash'], revision: rs.metadata.annotations['deployment.kubernetes.io/revision'] }));

beforeAll(async () => {
  cp = await startControlPlane();
  await cp.applyDeployerRbac();
  for (const stage of STAGES) await cp.createStage(stage);
}, 180_000);
afterAll(() => cp?.stop());

describe('rollout verdicts on a real control plane', () => {
  it('a good Deployment: complete (watched as the deployer, whose RBAC suffices), leaving no timer behind', async () => {
    await admin(['apply', '-f', '-'], deployment('kubeflow-metadata', GOOD));
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const result = await watch('kubeflow-metadata', 'deployer');
    expect(result).toMatchObject({ state: 'complete', outOfTime: false, generation: 1, observedGeneration: 1 });
    // Process-wide: other work in this process (kubectl children, sockets) may hold a timer for a moment,
    // so wait briefly for the count to settle; a timer the watcher left behind would stay.
    const timeouts = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    for (let i = 0; i < 20 && timeouts() > before; i++) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(timeouts()).toBeLessThanOrEqual(before);
    const forbidden = (await cp.auditEntries()).filter((e) => e.user.username === DEPLOYER_USER && e.responseStatus?.code === 403);
    expect(forbidden).toEqual([]);
  });

  it('then a crash-looping template: failed, naming CrashLoopBackOff on a pod of the NEW ReplicaSet while the old pod stays Ready', async () => {
    await admin(['apply', '-f', '-'], deployment('kubeflow-metadata', BAD, 'crashloop'));
    const result = await watch('kubeflow-metadata', 'deployer');
    expect(result).toMatchObject({ state: 'failed', generation: 2, message: 'back-off 40s restarting failed container=metadata' });
    const newest = (await hashes('kubeflow-metadata')).find((rs: any) => rs.revision === '2');
    expect(result.reason).toMatch(new RegExp(`^pod kubeflow-metadata-${newest.hash}-[a-z0-9]+ CrashLoopBackOff$`));
    const ready = JSON.parse(await admin(['-n', NS, 'get', 'deployment', 'kubeflow-metadata', '-o', 'json'])).status.availableReplicas;
    expect(ready).toBe(1); // the old pod still serves: maxUnavailable rounds down to 0
  });

  it('an image that cannot be pulled: failed, naming ImagePullBackOff', async () => {
    await admin(['apply', '-f', '-'], deployment('rollout-pull', BAD, 'image-pull-backoff'));
    const result = await watch('rollout-pull', 'admin');
    expect(result).toMatchObject({ state: 'failed', reason: expect.stringMatching(/^pod rollout-pull-[a-z0-9]+-[a-z0-9]+ ImagePullBackOff$/),
      message: `Back-off pulling image "${BAD}"` });
  });

  it('a stage keyed on the image, not a label (how a bad push of the deployer\'s own Deployment is made to fail): ErrImagePull', async () => {
    await admin(['apply', '-f', '-'], deployment('rollout-unpullable', UNPULLABLE));
    const result = await watch('rollout-unpullable', 'admin');
    expect(result).toMatchObject({ state: 'failed', reason: expect.stringMatching(/^pod rollout-unpullable-[a-z0-9]+-[a-z0-9]+ ErrImagePull$/), message: 'manifest unknown' });
  });

  it('pods that never get Ready, progressDeadlineSeconds 10: progressing, then failed with ProgressDeadlineExceeded naming the pod', async () => {
    for (const image of [GOOD, OTHER]) { // two good templates: the first one's ReplicaSet ends at 0 pods
      await admin(['apply', '-f', '-'], deployment('rollout-never-ready', image, undefined, 10));
      expect((await watch('rollout-never-ready', 'admin')).state).toBe('complete');
    }
    const t0 = Date.now();
    await admin(['apply', '-f', '-'], deployment('rollout-never-ready', OTHER, 'never-ready', 10));
    const result = await watch('rollout-never-ready', 'admin');
    const elapsed = Date.now() - t0;
    expect(result).toMatchObject({ state: 'failed', generation: 3, reason: expect.stringMatching(/^ProgressDeadlineExceeded: pod rollout-never-ready-[a-z0-9]+-[a-z0-9]+ Running, not Ready$/) });
    expect(result.message).toMatch(/has timed out progressing/);
    expect(result.seen.filter((v) => v.state === 'progressing').length).toBeGreaterThan(3);
    expect(elapsed).toBeGreaterThanOrEqual(10_000);
  });

  it('then a revert to the first template (its ReplicaSet still exists, at 0 pods): complete; the old ProgressDeadlineExceeded is not the revert\'s', async () => {
    await admin(['apply', '-f', '-'], deployment('rollout-never-ready', GOOD, undefined, 10));
    const since = new Date(String((await cp.request('GET', '/version')).headers.date)).toISOString();
    // `since` (the server's time of the revert) keeps a ProgressDeadlineExceeded of the failed rollout from
    // counting against this one. Here the controller replaces it at once (scaling the failed ReplicaSet down
    // is progress), in the status write that bumps observedGeneration; `since` guards the cases where it does not.
    const withSince = await watch('rollout-never-ready', 'admin', 120_000, { since });
    expect(withSince).toMatchObject({ state: 'complete', generation: 4 });
    expect(withSince.seen.filter((v) => v.state === 'failed')).toEqual([]);
  });
});
