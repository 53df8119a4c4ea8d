// Rollout verdicts (src/rollout/watch.ts + verdict.ts) proven on a REAL control plane
// (test/support/control-plane.ts): real Deployment and ReplicaSet controllers, real
// conditions (ProgressDeadlineExceeded), pods whose fate kwok stages decide.
//
// The stages are kwok.x-k8s.io/v1alpha1 Stage objects this test creates. kwok v0.8.0
// reads stages EITHER from --config files (static, what control-plane.ts passes) OR,
// with --enable-crds=Stage, from the API server (watched, so a test can add one) —
// never both (it refuses to start). Until control-plane.ts runs its kwok in that mode,
// this file starts a second kwok in it, managing a node of its own (STAGED_NODE) that
// the Deployments here select: the Stage CRD from the kwok module's
// kustomize/crd/bases, kwok's own default stages (the peer cache's stage files) as
// Stage objects, and three behaviour stages keyed on the pod label kfm-test/behaviour
// (weight 1, so they win over the default pod-ready, whose weight is 0):
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
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { watchRollout, type RolloutWatchResult } from '../src/rollout/watch.js';
import type { Verdict, VerdictOptions } from '../src/rollout/verdict.js';
import { DEPLOYER_USER, REPO_ROOT, peersCache, startControlPlane, type ControlPlane } from './support/control-plane.js';

jest.setTimeout(240_000); // a loaded 2-core machine: control plane start, rollouts, a 10 s progress deadline
const NS = 'kubeflow';
const STAGED_NODE = 'kwok-staged-0';
const GOOD = 'registry.example/kubeflow/metadata@sha256:' + '1'.repeat(64);
const BAD = 'registry.example/kubeflow/metadata@sha256:' + '2'.repeat(64);
const OTHER = 'registry.example/kubeflow/metadata@sha256:' + '4'.repeat(64);
/** Pods running this image fail to pull it (ErrImagePull), whatever their labels. */
const UNPULLABLE = 'registry.example/kubeflow/metadata@sha256:' + '3'.repeat(64);

const version = (key: string): string => {
  const match = new RegExp(`^${key}=(\\S+)`, 'm').exec(readFileSync(join(REPO_ROOT, 'scripts/test-peers/versions.env'), 'utf8'));
  if (!match?.[1]) throw new Error(`${key} missing from scripts/test-peers/versions.env`);
  return match[1];
};

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
let kwok: ChildProcess | undefined;

async function admin(args: string[], input?: string): Promise<string> {
  const { code, stdout, stderr } = await cp.kubectl(args, { input });
  if (code !== 0) throw new Error(`kubectl ${args.join(' ')}: ${stderr}`);
  return stdout;
}

/** A kwok that reads Stage objects from the API server and manages STAGED_NODE only (see the header). */
async function startStagedKwok(): Promise<void> {
  const kwokVersion = version('KFM_KWOK_VERSION');
  const kwokDir = join(peersCache(), `kwok-${kwokVersion}`);
  const modules = process.env.GOMODCACHE || (await promisify(execFile)('go', ['env', 'GOMODCACHE'])).stdout.trim();
  const crd = join(modules, 'sigs.k8s.io', `kwok@${kwokVersion}`, 'kustomize', 'crd', 'bases', 'kwok.x-k8s.io_stages.yaml');
  if (!existsSync(crd)) throw new Error(`${crd} is missing: run \`bash scripts/install-test-peers.sh\` (it downloads the kwok module)`);
  await admin(['apply', '-f', crd]);
  await admin(['wait', '--for=condition=Established', '--timeout=60s', 'crd/stages.kwok.x-k8s.io']);
  const defaults = (await readdir(join(kwokDir, 'stages'))).filter((f) => f.endsWith('.yaml')).sort();
  await admin(['apply', ...defaults.flatMap((f) => ['-f', join(kwokDir, 'stages', f)])]);
  await admin(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'List', items: STAGES }));
  const log = openSync(join(cp.stateDir, 'logs', 'kwok-staged.log'), 'a');
  kwok = spawn(join(kwokDir, 'bin', 'kwok'), [`--kubeconfig=${join(cp.stateDir, 'kwok.kubeconfig')}`, '--enable-crds=Stage',
    '--manage-all-nodes=false', '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=staged',
    '--node-lease-duration-seconds=40', '--server-address=127.0.0.1:0', '--cidr=10.245.0.0/16'], { stdio: ['ignore', log, log] });
  closeSync(log);
  await admin(['apply', '-f', '-'], JSON.stringify({
    apiVersion: 'v1', kind: 'Node',
    metadata: { name: STAGED_NODE, annotations: { 'kwok.x-k8s.io/node': 'staged' }, labels: { 'kubernetes.io/hostname': STAGED_NODE, type: 'kwok' } },
    status: { allocatable: { cpu: '32', memory: '256Gi', pods: '110' }, capacity: { cpu: '32', memory: '256Gi', pods: '110' } },
  }));
  await admin(['wait', '--for=condition=Ready', '--timeout=60s', `node/${STAGED_NODE}`]);
}

async function stopStagedKwok(): Promise<void> {
  const child = kwok;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

/** A Deployment on STAGED_NODE whose pods behave as `behaviour` says (undefined: Ready). */
function deployment(name: string, image: string, behaviour?: string, progressDeadlineSeconds = 60): string {
  const labels = { 'app.kubernetes.io/name': name, ...(behaviour ? { 'kfm-test/behaviour': behaviour } : {}) };
  return JSON.stringify({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, namespace: NS },
    spec: {
      replicas: 1, progressDeadlineSeconds, selector: { matchLabels: { 'app.kubernetes.io/name': name } },
      template: { metadata: { labels }, spec: { nodeSelector: { 'kubernetes.io/hostname': STAGED_NODE }, containers: [{ name: 'metadata', image }] } },
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
  await startStagedKwok();
}, 180_000);
afterAll(async () => {
  await stopStagedKwok();
  await cp?.stop();
});

describe('rollout verdicts on a real control plane', () => {
  it('a good Deployment: complete (watched as the deployer, whose RBAC suffices), leaving no timer behind', async () => {
    await admin(['apply', '-f', '-'], deployment('kubeflow-metadata', GOOD));
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const result = await watch('kubeflow-metadata', 'deployer');
    expect(result).toMatchObject({ state: 'complete', outOfTime: false, generation: 1, observedGeneration: 1 });
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThanOrEqual(before);
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
