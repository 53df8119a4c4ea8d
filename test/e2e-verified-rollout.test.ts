// Verified rollouts, revert, quarantine, pin and suspend (issue 11) on a REAL control plane
// (test/support/control-plane.ts): the real Deployment and ReplicaSet controllers decide the
// rollout, kwok decides the pods. A kwok Stage keyed on the image makes the pods of chosen
// digests crash-loop; every other pod becomes Ready (kwok's default stages). The deployer is the
// real one (createDeployer with the Kubernetes target, rollout observer and Event recorder, as
// src/app/runtime.ts wires them) running as the identity deploy/rbac.yaml binds; notifications go
// to a local receiver through the signed webhook adapter. The fetch port is a stand-in (tag →
// digest, a tag list): the registry suites cover the real one.
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { startControlPlane, type ControlPlane } from './support/control-plane.js';
import { createKubernetesTarget } from '../src/targets/kubernetes/target.js';
import { createDeployer, type StepReport } from '../src/app/deployer.js';
import { createAnnouncer } from '../src/app/rollout-step.js';
import { createRolloutObserver } from '../src/rollout/observer.js';
import { createEventRecorder } from '../src/record/events.js';
import { createWebhookNotifier, signature } from '../src/notify/webhook.js';
import { fanOut } from '../src/notify/port.js';
import { parseImageRef } from '../src/image/reference.js';
import { parseTagPolicy } from '../src/policy/tag-policy.js';
import { createLogger } from '../src/log.js';
import type { ResourceFetcher } from '../src/resource/port.js';
import type { PushEvent } from '../src/domain/types.js';
import type { Trigger } from '../src/app/plan.js';
import { observe, watchSecrets } from './support/leak-guard.js';

jest.setTimeout(300_000);
const NS = 'kubeflow';
const APP = 'kubeflow-metadata';
const SECRET = 'rollout-e2e-notify-secret-0123456789abcdef';
const PROGRESS_DEADLINE = 20;
const MYSQL_PASSWORD = 'rollout-e2e-mysql-password';
watchSecrets(SECRET, MYSQL_PASSWORD); // in no log line, Event, notification or non-Secret object
const image = parseImageRef('registry.example:5000/kubeflow/metadata:1.0.0');
const digestOf = (tag: string) => `sha256:${Buffer.from(tag).toString('hex').padEnd(64, '0').slice(0, 64)}`;
const pinned = (tag: string) => `registry.example:5000/kubeflow/metadata@${digestOf(tag)}`;
const BAD = ['1.1.0', '1.4.0'];
let tags = ['1.0.0'];
const fetcher: ResourceFetcher = {
  async fetch(request) {
    const tag = request.digest && !request.tag ? undefined : request.tag ?? image.tag;
    const digest = request.digest ?? digestOf(tag!);
    return { registryPath: `${image.registry}/${image.repository}@${digest}`, digest, tag, pushedAt: request.pushedAt };
  },
  listTags: async () => tags,
};
const push = (tag: string): Trigger => ({ hook: 'upgrade-charm', pushes: [{ provider: 'generic', repository: 'kubeflow/metadata', tag, digest: digestOf(tag) } satisfies PushEvent] });

/** Pods of the bad images crash-loop (the stage matches the container image). */
const crashLoopStage = {
  apiVersion: 'kwok.x-k8s.io/v1alpha1', kind: 'Stage', metadata: { name: 'kfm-test-bad-image' },
  spec: {
    resourceRef: { apiGroup: 'v1', kind: 'Pod' }, weight: 1,
    selector: { matchExpressions: [
      { key: '.spec.containers.[].image', operator: 'In', values: BAD.map(pinned) },
      { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' },
    ] },
    next: { statusTemplate: `conditions:
- {type: Ready, status: "False", reason: ContainersNotReady}
containerStatuses:
{{ range .spec.containers }}
- {name: {{ .name | Quote }}, image: {{ .image | Quote }}, ready: false, restartCount: 3, state: {waiting: {reason: CrashLoopBackOff, message: "back-off restarting failed container"}}}
{{ end }}
phase: Running
` },
  },
};

let cp: ControlPlane;
let kubeConfig: KubeConfig;
const received: Array<{ headers: IncomingHttpHeaders; body: string }> = [];
const receiver = createServer((request, response) => {
  let body = '';
  request.on('data', (chunk) => (body += chunk));
  request.on('end', () => {
    observe('a notification', body);
    received.push({ headers: request.headers, body });
    response.writeHead(204).end();
  });
});
const logger = createLogger((line) => observe('a log line', line));

function deployer(options: { revert?: boolean } = {}) {
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  return createDeployer({
    app: APP, namespace: NS, image, tagPolicy: parseTagPolicy('semver:^1', image.tag), setStatus: true,
    target: createKubernetesTarget({ kubeConfig, namespace: NS }), fetcher, logger, pod: { progressDeadlineSeconds: PROGRESS_DEADLINE },
    observer: createRolloutObserver({ kubeConfig, namespace: NS, app: APP, intervalMs: 500, marginMs: 1000 }),
    revert: options.revert,
    announcer: createAnnouncer({
      namespace: NS, app: APP, logger,
      events: createEventRecorder({ kubeConfig, namespace: NS, deployment: APP, reportingInstance: 'e2e' }),
      notifier: fanOut([createWebhookNotifier({ url, secret: SECRET })]),
    }),
  });
}
let current: ReturnType<typeof deployer>;
const run = async (trigger: Trigger, id: string): Promise<StepReport> => {
  const end = Date.now() + 120_000;
  return current.run(trigger, { id, deadline: () => end - Date.now() });
};
const deployed = async () => {
  const { body } = await cp.request('GET', `/apis/apps/v1/namespaces/${NS}/deployments/${APP}`);
  return (body as any).spec.template.spec.containers[0].image as string;
};
const events = async () => {
  const { body } = await cp.request('GET', `/apis/events.k8s.io/v1/namespaces/${NS}/events`);
  // The deployer's own, in order (the controllers' Events have no eventTime).
  observe('the Events', JSON.stringify(body));
  return ((body as any).items as any[]).filter((e) => e.reportingController === 'kubeflow-metadata-deployer')
    .sort((a, b) => a.eventTime.localeCompare(b.eventTime)).map((e) => ({ reason: e.reason, note: e.note as string }));
};
const reasonsSince = async (count: number) => (await events()).slice(count).map((e) => e.reason);
const deploymentWrites = async () => (await cp.writeRequests()).filter((e) => e.objectRef?.resource === 'deployments').length;

beforeAll(async () => {
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  cp = await startControlPlane();
  await cp.applyDeployerRbac();
  await cp.createStage(crashLoopStage);
  kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(cp.deployerKubeconfig);
  current = deployer();
}, 180_000);
afterAll(async () => {
  await cp?.stop();
  receiver.close();
});

describe('verified rollouts on a real control plane', () => {
  it('the first deploy ends active once the pods are Available, with ImageUpdated and RolloutComplete Events and one signed notification', async () => {
    // The MySQL relation lets the charm start: the image's default tag (1.0.0) is fetched and rolled out.
    const report = await run({ hook: 'config-changed', mysql: { host: 'mysql', port: 3306, user: 'root', password: MYSQL_PASSWORD } }, 'config-1');
    expect(report).toMatchObject({ outcome: 'applied', reason: 'rollout complete', status: { state: 'active', message: '' }, rollout: { state: 'complete' } });
    expect(await run(push('1.0.0'), 'push-1.0.0')).toMatchObject({ outcome: 'ignored', reason: expect.stringMatching(/already deployed/) });
    expect(report.statusHistory).toContainEqual({ state: 'maintenance', message: 'rolling out' });
    expect(await deployed()).toBe(pinned('1.0.0'));
    const deployment = (await cp.request('GET', `/apis/apps/v1/namespaces/${NS}/deployments/${APP}`)).body as any;
    expect(deployment.spec.progressDeadlineSeconds).toBe(PROGRESS_DEADLINE);
    expect(deployment.metadata.annotations['kubernetes.io/change-cause']).toBe('ConfigApplied: (provider config, event config-1)');
    expect(await reasonsSince(0)).toEqual(expect.arrayContaining(['ImageUpdated', 'RolloutComplete']));
    const verdicts = received.map((r) => ({ ...JSON.parse(r.body), signature: r.headers['x-signature'], valid: r.headers['x-signature'] === signature(SECRET, r.body) }));
    expect(verdicts).toEqual([expect.objectContaining({ event: 'RolloutComplete', valid: true, namespace: NS, app: APP })]);
  });

  it('a bad push: the pods crash-loop, the previous image runs again, the digest is quarantined, blocked "rollout failed: …", within the progress deadline', async () => {
    const before = (await events()).length;
    const t0 = Date.now();
    tags = ['1.0.0', '1.1.0'];
    const report = await run(push('1.1.0'), 'push-1.1.0');
    expect(Date.now() - t0).toBeLessThan((PROGRESS_DEADLINE + 5) * 1000);
    expect(report.status).toEqual({ state: 'blocked', message: expect.stringMatching(/^rollout failed: pod kubeflow-metadata-[a-z0-9]+-[a-z0-9]+ CrashLoopBackOff$/) });
    expect(report.rollout).toMatchObject({ state: 'complete', revert: true });
    expect(await deployed()).toBe(pinned('1.0.0'));
    const status = await current.status();
    expect(status.quarantine[digestOf('1.1.0')]).toMatchObject({ reason: expect.stringMatching(/CrashLoopBackOff/), tag: '1.1.0' });
    expect(await reasonsSince(before)).toEqual(expect.arrayContaining(['ImageUpdated', 'RolloutFailed', 'Quarantined', 'Reverted']));
    expect(received.map((r) => JSON.parse(r.body).event)).toEqual(['RolloutComplete', 'RolloutFailed', 'RolloutComplete']);
    const { stdout } = await cp.kubectl(['-n', NS, 'get', 'events', '--sort-by=.eventTime', '-o', 'custom-columns=REASON:.reason,MESSAGE:.message']);
    expect(stdout).toMatch(/RolloutFailed\s+rollout failed: pod .* CrashLoopBackOff/);
    expect(stdout).toMatch(/Reverted\s+reverted to the last Available image/);
  });

  it('a redelivery of the bad push and the scheduled refresh change nothing', async () => {
    const writes = await deploymentWrites();
    const redelivered = await run(push('1.1.0'), 'push-1.1.0-again');
    expect(redelivered).toMatchObject({ outcome: 'ignored', reason: expect.stringMatching(/is quarantined/) });
    const refresh = await run({ hook: 'upgrade-charm' }, 'refresh-1');
    expect(refresh).toMatchObject({ outcome: 'ignored', reason: expect.stringMatching(/is quarantined/) });
    expect(await deploymentWrites()).toBe(writes);
    expect(await deployed()).toBe(pinned('1.0.0'));
  });

  it('a newer good push clears the block', async () => {
    tags = ['1.0.0', '1.1.0', '1.2.0'];
    const report = await run(push('1.2.0'), 'push-1.2.0');
    expect(report).toMatchObject({ outcome: 'applied', status: { state: 'active', message: '' }, rollout: { state: 'complete' } });
    expect(await deployed()).toBe(pinned('1.2.0'));
  });

  it('a pin of an older tag deploys it and holds against newer pushes and a cold start, until unpinned', async () => {
    const before = (await events()).length;
    const pin = await run({ hook: 'upgrade-charm', control: { pin: { tag: '1.0.0' } } }, 'control-pin');
    expect(pin).toMatchObject({ outcome: 'applied', status: { state: 'active' } });
    expect(await deployed()).toBe(pinned('1.0.0'));
    expect(await reasonsSince(before)).toEqual(expect.arrayContaining(['Pinned', 'ImageUpdated', 'RolloutComplete']));
    tags = ['1.0.0', '1.1.0', '1.2.0', '1.3.0'];
    expect(await run(push('1.3.0'), 'push-1.3.0')).toMatchObject({ outcome: 'ignored', reason: expect.stringMatching(/pinned to tag 1.0.0/) });
    current = deployer(); // a cold start: nothing in memory
    expect((await current.status()).control).toEqual({ pin: { tag: '1.0.0' } });
    expect(await run(push('1.3.0'), 'push-1.3.0-cold')).toMatchObject({ outcome: 'ignored' });
    expect(await run({ hook: 'upgrade-charm' }, 'refresh-pinned')).toMatchObject({ status: { state: 'active' } });
    expect(await deployed()).toBe(pinned('1.0.0'));
    const unpin = await run({ hook: 'upgrade-charm', control: { unpin: true } }, 'control-unpin');
    expect(unpin).toMatchObject({ outcome: 'applied', status: { state: 'active' } });
    expect(await deployed()).toBe(pinned('1.3.0')); // the policy decides again: the newest allowed tag
  });

  it('suspended, a push is ignored and recorded; resumed, the refresh catches up', async () => {
    expect(await run({ hook: 'update-status', control: { suspend: true } }, 'control-suspend')).toMatchObject({ outcome: 'applied' });
    tags = [...tags, '1.5.0'];
    const ignored = await run(push('1.5.0'), 'push-1.5.0');
    expect(ignored).toMatchObject({ outcome: 'ignored', reason: expect.stringMatching(/suspended/) });
    expect(await deployed()).toBe(pinned('1.3.0'));
    expect((await current.status()).recent.find((r) => r.id === 'push-1.5.0')).toMatchObject({ outcome: 'ignored' });
    expect(await run({ hook: 'upgrade-charm', control: { resume: true } }, 'control-resume')).toMatchObject({ outcome: 'applied', status: { state: 'active' } });
    expect(await deployed()).toBe(pinned('1.5.0'));
  });

  it('with the revert turned off, a bad push stays: blocked, quarantined, nothing rolled back', async () => {
    current = deployer({ revert: false });
    const report = await run(push('1.4.0'), 'push-1.4.0');
    expect(report).toMatchObject({ outcome: 'ignored' }); // older than the deployed 1.5.0: never-downgrade
    tags = [...tags, '1.6.0'];
    BAD.push('1.6.0');
    await cp.createStage({ ...crashLoopStage, spec: { ...crashLoopStage.spec, selector: { matchExpressions: [
      { key: '.spec.containers.[].image', operator: 'In', values: BAD.map(pinned) },
      { key: '.metadata.deletionTimestamp', operator: 'DoesNotExist' },
    ] } } });
    const bad = await run(push('1.6.0'), 'push-1.6.0');
    expect(bad.status).toMatchObject({ state: 'blocked', message: expect.stringMatching(/^rollout failed: /) });
    expect(await deployed()).toBe(pinned('1.6.0'));
    expect((await current.status()).quarantine[digestOf('1.6.0')]).toBeDefined();
  });
});
