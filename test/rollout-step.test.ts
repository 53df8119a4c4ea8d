// The rollout's rules and shell (src/charm/rollout.ts, src/app/plan.ts's control, src/app/deployer.ts's
// follow loop, src/app/step-events.ts) on the in-memory target, with a SCRIPTED observer: each look
// answers the next verdict of a list. The real observer on a real control plane is
// test/e2e-verified-rollout.test.ts; this file pins the decisions one by one, fast enough for mutation runs.
import { describe, expect, it } from '@jest/globals';
import { createDeployer, type Trigger } from '../src/app/deployer.js';
import { createWorker } from '../src/app/worker.js';
import { createInProcessQueue } from '../src/queue/in-process.js';
import type { Announcer } from '../src/app/rollout-step.js';
import type { RolloutFollowResult, RolloutObserver } from '../src/rollout/port.js';
import { parseImageRef } from '../src/image/reference.js';
import { parseTagPolicy } from '../src/policy/tag-policy.js';
import { silentLogger } from '../src/log.js';
import type { ResourceFetcher } from '../src/resource/port.js';
import { memoryTarget } from './mutation/support/memory-target.js';

const image = parseImageRef('registry.example/kubeflow/metadata:1.0.0');
const digest = (tag: string) => `sha256:${Buffer.from(tag).toString('hex').padEnd(64, '0')}`;
const fetcher: ResourceFetcher = {
  async fetch(request) {
    const tag = request.digest && !request.tag ? undefined : request.tag ?? image.tag;
    const d = request.digest ?? digest(tag!);
    return { registryPath: `registry.example/kubeflow/metadata@${d}`, digest: d, tag, pushedAt: request.pushedAt };
  },
  listTags: async () => ['1.0.0', '1.1.0'],
};
const MYSQL: Trigger = { hook: 'config-changed', mysql: { host: 'mysql', port: 3306, user: 'root', password: 'rollout-step-pw' } };
const push = (tag: string): Trigger => ({ hook: 'upgrade-charm', pushes: [{ provider: 'generic', repository: 'kubeflow/metadata', tag, digest: digest(tag) }] });
const complete: RolloutFollowResult = { state: 'complete', outOfTime: false };
const failed: RolloutFollowResult = { state: 'failed', reason: 'pod p CrashLoopBackOff', outOfTime: false };
const outOfTime: RolloutFollowResult = { state: 'progressing', reason: '0 of 1 updated replicas', outOfTime: true };

/** An observer answering `script` in order (then `complete`), counting its looks. */
function scripted(script: RolloutFollowResult[]) {
  const looks: Array<string | undefined> = [];
  const observer: RolloutObserver = { follow: async ({ since }) => (looks.push(since), script.shift() ?? complete) };
  return { observer, looks, script };
}

function setup(options: { script?: RolloutFollowResult[]; revert?: boolean; observer?: boolean } = {}) {
  const target = memoryTarget();
  const { observer, looks, script } = scripted(options.script ?? []);
  const told: string[] = [];
  const announcer: Announcer = { announce: async (before, after) => void told.push(...(await import('../src/app/step-events.js')).stepEvents(before, after, {}).map((e) => e.reason)) };
  const deployer = createDeployer({
    app: 'kubeflow-metadata', namespace: 'kubeflow', image, tagPolicy: parseTagPolicy('semver:^1', '1.0.0'), setStatus: true,
    target, fetcher, logger: silentLogger, observer: options.observer === false ? undefined : observer, revert: options.revert, announcer,
  });
  const image_ = () => (target.get('Deployment', 'kubeflow-metadata') as any)?.spec.template.spec.containers[0].image as string | undefined;
  return { deployer, target, looks, script, told, deployed: image_ };
}
const pinned = (tag: string) => `registry.example/kubeflow/metadata@${digest(tag)}`;

describe('a rollout, followed', () => {
  it('the directory target (no observer): a rollout completes in the step that starts it, active at once', async () => {
    const { deployer, told } = setup({ observer: false });
    const report = await deployer.run(MYSQL, { id: 'c' });
    expect(report).toMatchObject({ status: { state: 'active', message: '' }, rollout: { state: 'complete', digest: digest('1.0.0') } });
    expect(report.flags).not.toContain('workload.rolling-out');
    expect((await deployer.status()).rollout).toMatchObject({ state: 'complete' });
    expect(told).toEqual(['ImageUpdated']); // no verdict to announce: nothing was followed
  });

  it('complete: maintenance "rolling out" on the way, then active; the image becomes the last Available one', async () => {
    const { deployer, looks } = setup({ script: [complete] });
    const report = await deployer.run(MYSQL, { id: 'c' });
    expect(report.statusHistory).toContainEqual({ state: 'maintenance', message: 'rolling out' });
    expect(report).toMatchObject({ outcome: 'applied', reason: 'rollout complete', status: { state: 'active', message: '' } });
    expect(looks).toHaveLength(1);
    expect(report.checkLater).toBeUndefined();
  });

  it('the same spec again (a refresh, a redelivered config) starts no rollout and writes nothing', async () => {
    const s = setup({ script: [complete] });
    await s.deployer.run(MYSQL, { id: 'c' });
    await s.deployer.run(push('1.1.0'), { id: 'p' });
    const writes = s.target.writes.length;
    const looks = s.looks.length;
    const refresh = await s.deployer.run({ hook: 'upgrade-charm' }, { id: 'refresh' }); // 1.1.0 is the newest: the same spec
    expect(refresh).toMatchObject({ status: { state: 'active', message: '' }, changes: [] });
    await s.deployer.run(MYSQL, { id: 'c-again' });
    expect(s.target.writes.length).toBe(writes);
    expect(s.looks.length).toBe(looks);
  });

  it('failed: the digest is quarantined and the last Available image set again; the revert is followed too', async () => {
    const s = setup({ script: [complete, failed, complete] });
    await s.deployer.run(MYSQL, { id: 'c' });
    const report = await s.deployer.run(push('1.1.0'), { id: 'bad' });
    expect(report.status).toEqual({ state: 'blocked', message: 'rollout failed: pod p CrashLoopBackOff' });
    expect(report.rollout).toMatchObject({ state: 'complete', revert: true, digest: digest('1.0.0') });
    expect(s.deployed()).toBe(pinned('1.0.0'));
    expect(s.looks).toHaveLength(3);
    // The report lists the writes of every step it ran: the push, the revert (the failure's step), the revert's verdict
    // (each claim restamps every object with its generation).
    expect(report.changes.filter((c) => c.kind === 'Deployment').map((c) => c.outcome)).toEqual(['patched', 'patched', 'patched']);
    const status = await s.deployer.status();
    expect(status.quarantine).toEqual({ [digest('1.1.0')]: { reason: 'pod p CrashLoopBackOff', at: expect.any(String), tag: '1.1.0' } });
    expect(s.told).toEqual(['ImageUpdated', 'RolloutComplete', 'ImageUpdated', 'RolloutFailed', 'Quarantined', 'Reverted', 'RolloutComplete']);
    // Never again by a redelivery, nor by the refresh (1.1.0 is the newest the policy allows).
    expect(await s.deployer.run(push('1.1.0'), { id: 'again' })).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('is quarantined') });
    expect(await s.deployer.run({ hook: 'upgrade-charm' }, { id: 'refresh' })).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('is quarantined') });
    expect(s.deployed()).toBe(pinned('1.0.0'));
    // Unquarantined, the refresh deploys it again.
    await s.deployer.run({ hook: 'update-status', control: { unquarantine: digest('1.1.0') } }, { id: 'u' });
    expect((await s.deployer.status()).quarantine).toEqual({});
    expect(await s.deployer.run({ hook: 'upgrade-charm' }, { id: 'refresh-2' })).toMatchObject({ outcome: 'applied', status: { state: 'active' } });
    expect(s.deployed()).toBe(pinned('1.1.0'));
  });

  it('a failed revert is not reverted in turn, and its digest is not quarantined', async () => {
    const s = setup({ script: [complete, failed, { ...failed, reason: 'pod q ErrImagePull' }] });
    await s.deployer.run(MYSQL, { id: 'c' });
    const report = await s.deployer.run(push('1.1.0'), { id: 'bad' });
    expect(report.status).toEqual({ state: 'blocked', message: 'rollout failed: pod q ErrImagePull' });
    expect(report.rollout).toMatchObject({ state: 'failed', revert: true });
    expect(Object.keys((await s.deployer.status()).quarantine)).toEqual([digest('1.1.0')]);
    expect(s.looks).toHaveLength(3);
  });

  it('the first rollout fails: nothing to revert to, blocked, quarantined', async () => {
    const s = setup({ script: [failed] });
    const report = await s.deployer.run(MYSQL, { id: 'c' });
    expect(report).toMatchObject({ status: { state: 'blocked', message: 'rollout failed: pod p CrashLoopBackOff' }, rollout: { state: 'failed' } });
    expect(report.rollout?.revert).toBeUndefined();
    expect(s.deployed()).toBe(pinned('1.0.0'));
  });

  it('KFM_REVERT=false: blocked, quarantined, nothing rolled back', async () => {
    const s = setup({ script: [complete, failed], revert: false });
    await s.deployer.run(MYSQL, { id: 'c' });
    const report = await s.deployer.run(push('1.1.0'), { id: 'bad' });
    expect(report).toMatchObject({ status: { state: 'blocked' }, rollout: { state: 'failed' } });
    expect(s.deployed()).toBe(pinned('1.1.0'));
    expect(s.told).not.toContain('Reverted');
    expect(Object.keys((await s.deployer.status()).quarantine)).toEqual([digest('1.1.0')]);
  });

  it('out of time: the report asks for a later check; a check of that rollout decides it, a stale one is ignored', async () => {
    const s = setup({ script: [outOfTime] });
    const first = await s.deployer.run(MYSQL, { id: 'c' });
    expect(first).toMatchObject({ status: { state: 'maintenance', message: 'rolling out' }, rollout: { state: 'progressing' }, checkLater: 'c' });
    expect((await s.deployer.status()).rollout).toMatchObject({ state: 'progressing' });
    expect(await s.deployer.run({ hook: 'update-status', check: 'other' }, { id: 'k1' })).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('no longer in progress') });
    const check = await s.deployer.run({ hook: 'update-status', check: 'c' }, { id: 'k2' });
    expect(check).toMatchObject({ status: { state: 'active', message: '' }, rollout: { state: 'complete' } });
    expect(check.checkLater).toBeUndefined();
  });

  it('a rollout that outlives the invocation is decided by a check message in the same group (the worker schedules it)', async () => {
    const s = setup({ script: [outOfTime, outOfTime] });
    const reports: string[] = [];
    const queue = createInProcessQueue({
      deliver: (batch) => worker(batch, () => 60_000),
      deadLetter: async () => undefined,
      retryDelayMs: () => 1,
    });
    const worker = createWorker({ deployer: s.deployer, logger: silentLogger, intake: { image, tagPolicy: parseTagPolicy('semver:^1', '1.0.0') },
      onReport: (report) => reports.push(`${report.id.split('-')[0]}:${report.status.state}`), followUp: { queue, groupId: 'kubeflow/kubeflow-metadata' } });
    const command = { kind: 'config', id: 'config-1', receivedAt: new Date().toISOString(), mysql: { host: 'mysql', port: 3306, user: 'root', password: 'x-pw' } };
    await queue.send({ groupId: 'kubeflow/kubeflow-metadata', deduplicationId: command.id, body: JSON.stringify(command) });
    await queue.drain();
    expect(reports).toEqual(['config:maintenance', 'check:maintenance', 'check:active']);
    expect(s.looks).toHaveLength(3);
  });
});

describe('people in control', () => {
  it('a pin deploys exactly that (older, by digest too), holds against pushes and the refresh, and unpin gives the policy back', async () => {
    const s = setup({ observer: false });
    await s.deployer.run(MYSQL, { id: 'c' });
    await s.deployer.run(push('1.1.0'), { id: 'p1' });
    const pin = await s.deployer.run({ hook: 'upgrade-charm', control: { pin: { digest: digest('1.0.0') } } }, { id: 'pin' });
    expect(pin).toMatchObject({ outcome: 'applied', status: { state: 'active' } });
    expect(s.deployed()).toBe(pinned('1.0.0'));
    expect(s.told).toEqual(expect.arrayContaining(['Pinned']));
    expect(await s.deployer.run(push('1.2.0'), { id: 'p2' })).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining(`pinned to digest ${digest('1.0.0')}`) });
    await s.deployer.run({ hook: 'upgrade-charm' }, { id: 'refresh' });
    expect(s.deployed()).toBe(pinned('1.0.0'));
    expect((await s.deployer.status()).control).toEqual({ pin: { digest: digest('1.0.0') } });
    await s.deployer.run({ hook: 'upgrade-charm', control: { unpin: true } }, { id: 'unpin' });
    expect((await s.deployer.status()).control).toEqual({});
    expect(s.deployed()).toBe(pinned('1.1.0'));
    expect(s.told).toEqual(expect.arrayContaining(['Unpinned']));
  });

  it('unpin while suspended lifts the pin (the image stays: still suspended); resume while pinned keeps the pin', async () => {
    const s = setup({ observer: false });
    await s.deployer.run(MYSQL, { id: 'c' });
    await s.deployer.run({ hook: 'upgrade-charm', control: { pin: { tag: '1.0.0' } } }, { id: 'pin' });
    await s.deployer.run({ hook: 'update-status', control: { suspend: true } }, { id: 's' });
    await s.deployer.run({ hook: 'upgrade-charm', control: { unpin: true } }, { id: 'unpin' });
    expect((await s.deployer.status()).control).toEqual({ suspended: true });
    expect(s.deployed()).toBe(pinned('1.0.0'));
    await s.deployer.run({ hook: 'upgrade-charm', control: { pin: { tag: '1.0.0' } } }, { id: 'pin-2' });
    await s.deployer.run({ hook: 'upgrade-charm', control: { resume: true } }, { id: 'resume' });
    expect((await s.deployer.status()).control).toEqual({ pin: { tag: '1.0.0' } });
    expect(s.deployed()).toBe(pinned('1.0.0'));
  });

  it('suspend: config still applies, pushes are ignored; resume: the refresh catches up', async () => {
    const s = setup({ observer: false });
    await s.deployer.run(MYSQL, { id: 'c' });
    expect(await s.deployer.run({ hook: 'update-status', control: { suspend: true } }, { id: 's' })).toMatchObject({ outcome: 'applied' });
    expect(s.told).toContain('Suspended');
    expect(await s.deployer.run(push('1.1.0'), { id: 'p' })).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('suspended') });
    const config = await s.deployer.run({ hook: 'config-changed', config: { port: 9090 } }, { id: 'port' });
    expect(config).toMatchObject({ outcome: 'applied' });
    expect((s.target.get('Service', 'kubeflow-metadata') as any).spec.ports[0].port).toBe(9090);
    expect(s.deployed()).toBe(pinned('1.0.0'));
    await s.deployer.run({ hook: 'upgrade-charm', control: { resume: true } }, { id: 'r' });
    expect(s.told).toContain('Resumed');
    expect(s.deployed()).toBe(pinned('1.1.0'));
  });
});

describe('announcing a stored step', () => {
  it('one notification per verdict, after the state is stored; a refused or throwing channel never fails the step', async () => {
    const { createAnnouncer } = await import('../src/app/rollout-step.js');
    const target = memoryTarget();
    const sent: string[] = [];
    const recorded: string[] = [];
    const stateStoredWhenNotified: boolean[] = [];
    const announcer = createAnnouncer({
      namespace: 'kubeflow', app: 'kubeflow-metadata', logger: silentLogger,
      events: { record: async (event) => (recorded.push(event.reason), { ok: false, reason: event.reason, error: 'forbidden' }) },
      notifier: {
        notify: async (n) => {
          sent.push(`${n.event}:${n.summary}`);
          // The verdict is in the stored state already: a completed rollout, or the revert the failure started.
          const stored = JSON.stringify(target.get('ConfigMap', 'kubeflow-metadata-deployer-state'));
          stateStoredWhenNotified.push(n.event === 'RolloutFailed' ? stored.includes('revert') && stored.includes(digest('1.1.0')) : /state\W+complete/.test(stored));
          if (n.event === 'RolloutFailed') throw new Error('receiver down');
          return [{ ok: false, channel: 'webhook', error: '500', status: 500, timedOut: false, ms: 1 }];
        },
      },
    });
    const { observer } = scripted([complete, failed, complete]);
    const deployer = createDeployer({
      app: 'kubeflow-metadata', namespace: 'kubeflow', image, tagPolicy: parseTagPolicy('semver:^1', '1.0.0'), setStatus: true,
      target, fetcher, logger: silentLogger, observer, announcer,
    });
    await deployer.run(MYSQL, { id: 'c' });
    const bad = await deployer.run(push('1.1.0'), { id: 'bad' });
    expect(bad.status.state).toBe('blocked');
    expect(sent).toEqual([
      'RolloutComplete:rollout of sha256:312e302e30000000000000000000000000000000000000000000000000000000 complete',
      'RolloutFailed:rollout failed: pod p CrashLoopBackOff; reverted to the last Available image',
      'RolloutComplete:rollout of sha256:312e302e30000000000000000000000000000000000000000000000000000000 complete',
    ]);
    expect(stateStoredWhenNotified).toEqual([true, true, true]);
    expect(recorded).toEqual(['ImageUpdated', 'RolloutComplete', 'ImageUpdated', 'RolloutFailed', 'Quarantined', 'Reverted', 'RolloutComplete']);
  });
});
