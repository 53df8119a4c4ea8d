// The step's shell (src/app/deployer.ts) on the in-memory target with a stub
// registry: what it asks the registry, the fetch cache shared by recomputations
// of one event (and only of one event), the outcome and reason of each kind of
// step, the held audit records, and how it gives up.
import { describe, expect, it, jest } from '@jest/globals';
import { createDeployer, type Trigger } from '../../src/app/deployer.js';
import { BogusEventError, ConflictError, FetchError, TargetError } from '../../src/errors.js';
import { parseImageRef } from '../../src/image/reference.js';
import { parseTagPolicy, type TagPolicy } from '../../src/policy/tag-policy.js';
import type { FetchRequest, ResourceFetcher } from '../../src/resource/port.js';
import { memoryTarget, type MemoryTarget } from './support/memory-target.js';
import { recordingLogger } from './support/recording-logger.js';

const REGISTRY = 'registry.example';
const image = parseImageRef(`${REGISTRY}/kubeflow/metadata:1.0.0`);
const d = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const digestOfTag = (tag: string) => d(Number(tag.replace(/\D/g, '')) || 99);
const MYSQL: Trigger = { hook: 'config-changed', mysql: { host: 'mysql', port: 3306, user: 'root', password: 'deployer-test-pw' } };
const pushOf = (tag: string, n = digestOfTag(tag), pushedAt?: string): Trigger =>
  ({ hook: 'upgrade-charm', pushes: [{ provider: 'generic', registry: REGISTRY, repository: 'kubeflow/metadata', tag, digest: n, pushedAt }] });

type Answer = 'ok' | FetchError | BogusEventError | Error;

function stubRegistry(tags: string[] = []) {
  const requests: FetchRequest[] = [];
  const answers = new Map<string, Answer>();
  let listed = 0;
  let listAnswer: string[] | Error = tags;
  const fetcher: ResourceFetcher & { listTags: NonNullable<ResourceFetcher['listTags']> } = {
    async fetch(request) {
      requests.push(request);
      const tag = request.tag ?? image.tag;
      const answer = answers.get(tag) ?? 'ok';
      if (answer !== 'ok') throw answer;
      const digest = request.digest ?? digestOfTag(tag);
      return { registryPath: `${REGISTRY}/kubeflow/metadata@${digest}`, digest, tag, pushedAt: request.pushedAt };
    },
    async listTags() {
      listed += 1;
      if (listAnswer instanceof Error) throw listAnswer;
      return listAnswer;
    },
  };
  return {
    fetcher, requests, answers,
    listed: () => listed,
    setList: (answer: string[] | Error) => { listAnswer = answer; },
  };
}


function setup(options: { policy?: TagPolicy; tags?: string[]; target?: MemoryTarget; withoutListing?: boolean; maxAttempts?: number } = {}) {
  const registry = stubRegistry(options.tags);
  const target = options.target ?? memoryTarget();
  const { logger, lines } = recordingLogger();
  const fetcher: ResourceFetcher = options.withoutListing ? { fetch: registry.fetcher.fetch } : registry.fetcher;
  let clock = 0;
  const deployer = createDeployer({
    app: 'kubeflow-metadata', namespace: 'kubeflow', image, tagPolicy: options.policy ?? parseTagPolicy('semver:^1', image.tag), setStatus: true,
    target, fetcher, logger, maxAttempts: options.maxAttempts, now: () => new Date(Date.UTC(2026, 0, 1, 0, 0, (clock += 1))),
  });
  const deployment = () => (target.get('Deployment', 'kubeflow-metadata')?.spec as any)?.template.spec.containers[0].image as string | undefined;
  const storedState = () => JSON.parse((target.get('ConfigMap', 'kubeflow-metadata-deployer-state')!.data as Record<string, string>)['state.json']!);
  return { deployer, target, registry, lines, deployment, storedState };
}

/** Makes the next `count` claims (state writes) lose their race. */
function conflictOnClaims(target: MemoryTarget, count: number) {
  let left = count;
  target.beforeWrite = (desired) => {
    if (desired.kind === 'ConfigMap' && left > 0) {
      left -= 1;
      throw new ConflictError('lost the race (test)');
    }
  };
}

describe('what the registry is asked', () => {
  it('a push: its tag, digest and push time', async () => {
    const s = setup();
    await s.deployer.run(MYSQL);
    await s.deployer.run(pushOf('1.2.0', d(12), '2026-01-01T00:00:00Z'));
    expect(s.registry.requests.at(-1)).toEqual({ image, tag: '1.2.0', digest: d(12), pushedAt: '2026-01-01T00:00:00Z' });
  });

  it('the first step: the tag of KFM_IMAGE, no digest', async () => {
    const s = setup();
    await s.deployer.run(MYSQL);
    expect(s.registry.requests).toEqual([{ image, tag: '1.0.0', digest: undefined, pushedAt: undefined }]);
  });

  it('a refresh without a listing: the deployed tag', async () => {
    const s = setup({ withoutListing: true });
    await s.deployer.run(MYSQL);
    await s.deployer.run(pushOf('1.2.0'));
    await s.deployer.run({ hook: 'upgrade-charm' });
    expect(s.registry.requests.at(-1)).toMatchObject({ tag: '1.2.0', digest: undefined });
  });
});

describe('the fetch cache', () => {
  it('recomputations of one event after lost claims fetch once', async () => {
    const s = setup();
    await s.deployer.run(MYSQL);
    const before = s.registry.requests.length;
    conflictOnClaims(s.target, 2);
    const report = await s.deployer.run(pushOf('1.2.0'));
    expect(report.outcome).toBe('applied');
    expect(s.deployment()).toContain(digestOfTag('1.2.0'));
    expect(s.registry.requests.length - before).toBe(1);
  });

  it('is per event: the same push delivered again is fetched again', async () => {
    const s = setup();
    await s.deployer.run(MYSQL);
    s.registry.answers.set('1.2.0', new FetchError('registry down'));
    await s.deployer.run(pushOf('1.2.0'));
    s.registry.answers.delete('1.2.0');
    const report = await s.deployer.run(pushOf('1.2.0'));
    expect(report.outcome).toBe('applied');
    expect(s.registry.requests.filter((r) => r.tag === '1.2.0')).toHaveLength(2);
  });

  it('is keyed by tag and digest: another digest of the same tag is another fetch', async () => {
    const s = setup();
    await s.deployer.run(MYSQL);
    await s.deployer.run({ hook: 'upgrade-charm', pushes: [
      { provider: 'generic', registry: REGISTRY, repository: 'kubeflow/metadata', tag: '1.2.0', digest: d(1), pushedAt: '2026-01-01T00:00:00Z' },
    ] });
    await s.deployer.run({ hook: 'upgrade-charm', pushes: [
      { provider: 'generic', registry: REGISTRY, repository: 'kubeflow/metadata', tag: '1.2.0', digest: d(2), pushedAt: '2026-01-02T00:00:00Z' },
    ] });
    expect(s.registry.requests.filter((r) => r.tag === '1.2.0').map((r) => r.digest)).toEqual([d(1), d(2)]);
    expect(s.deployment()).toContain(d(2));
  });
});

describe('outcomes', () => {
  it('a transient fetch failure fails the event, saying why, and logs it', async () => {
    const s = setup();
    await s.deployer.run(MYSQL);
    s.registry.answers.set('1.2.0', new FetchError('registry down'));
    const report = await s.deployer.run(pushOf('1.2.0'));
    expect(report).toMatchObject({ outcome: 'failed', reason: 'registry down', failures: { 'oci-image': 'registry down' }, skipped: false });
    expect(s.lines).toContainEqual(['warn', 'resource fetch failed', { resource: 'oci-image', reason: 'registry down' }]);
  });

  it('a permanent fetch failure is applied (recorded), with its reason', async () => {
    const s = setup();
    await s.deployer.run(MYSQL);
    s.registry.answers.set('1.2.0', new FetchError('never there', { transient: false }));
    const report = await s.deployer.run(pushOf('1.2.0'));
    expect(report).toMatchObject({ outcome: 'applied', reason: 'never there' });
  });

  it('a fetch that throws anything else is no outcome: the error propagates', async () => {
    const s = setup();
    await s.deployer.run(MYSQL);
    s.registry.answers.set('1.2.0', new TypeError('a bug'));
    await expect(s.deployer.run(pushOf('1.2.0'))).rejects.toThrow('a bug');
  });

  it('a bogus digest is ignored with the registry’s words, and writes nothing', async () => {
    const s = setup();
    await s.deployer.run(MYSQL);
    s.registry.answers.set('1.2.0', new BogusEventError('no such manifest'));
    s.target.writes.length = 0;
    const report = await s.deployer.run(pushOf('1.2.0'));
    expect(report).toMatchObject({ outcome: 'ignored', reason: 'no such manifest', skipped: true, changes: [] });
    expect(report.ignored).toEqual(['no such manifest']);
    expect(s.target.writes).toEqual([]);
  });

  it('a push batch with nothing in it is ignored: nothing to do', async () => {
    const s = setup();
    await s.deployer.run(MYSQL);
    const report = await s.deployer.run({ hook: 'upgrade-charm', pushes: [] });
    expect(report).toMatchObject({ outcome: 'ignored', reason: 'nothing to do', skipped: true });
  });

  it('an applied step has no reason, and reports its changes, status and resources', async () => {
    const s = setup();
    const first = await s.deployer.run(MYSQL);
    expect(first.outcome).toBe('applied');
    expect(first.reason).toBeUndefined();
    expect('reason' in first && first.reason !== undefined).toBe(false);
    expect(first.status).toEqual({ state: 'active', message: '' });
    expect(first.resources['oci-image']).toEqual({ registryPath: `${REGISTRY}/kubeflow/metadata@${digestOfTag('1.0.0')}`, digest: digestOfTag('1.0.0'), tag: '1.0.0' });
    expect(first.changes.map((c) => c.kind)).toEqual(['ConfigMap', 'Secret', 'Service', 'Deployment']);
    expect(first.flags).toContain('charm.started');
    expect(first.statusHistory.at(-1)).toEqual({ state: 'active', message: '' });
    expect(first.ignored).toEqual([]);
    expect(first.skipped).toBe(false);
  });
});

describe('the audit trail', () => {
  it('describes the trigger, and numbers direct calls', async () => {
    const s = setup();
    const a = await s.deployer.run(MYSQL);
    const b = await s.deployer.run(pushOf('1.2.0'));
    const c = await s.deployer.run({ hook: 'upgrade-charm' });
    const e = await s.deployer.run(pushOf('1.3.0'), { id: 'given', trigger: 'generic push 1.3.0' });
    expect(a.id).toMatch(new RegExp(`^direct-${process.pid}-\\d+$`));
    const n = Number(a.id.split('-').at(-1));
    expect([b.id, c.id]).toEqual([`direct-${process.pid}-${n + 1}`, `direct-${process.pid}-${n + 2}`]);
    expect(e.id).toBe('given');
    const recent = s.storedState().recent.map((r: { id: string; trigger: string }) => [r.id, r.trigger]);
    expect(recent).toEqual([[a.id, 'config'], [b.id, 'push'], [c.id, 'refresh'], ['given', 'generic push 1.3.0']]);
  });

  it('a step that writes nothing holds its record: shown by status, stored with the next write', async () => {
    const s = setup();
    await s.deployer.run(MYSQL);
    const duplicate = await s.deployer.run(pushOf('1.0.0'), { id: 'dup' });
    expect(duplicate.reason).toMatch(/already deployed/);
    expect(s.storedState().recent.map((r: { id: string }) => r.id)).not.toContain('dup');
    expect((await s.deployer.status()).recent.at(-1)).toMatchObject({ id: 'dup', outcome: 'ignored' });
    await s.deployer.run(pushOf('1.2.0'), { id: 'next' });
    expect(s.storedState().recent.map((r: { id: string }) => r.id).slice(-2)).toEqual(['dup', 'next']);
    // Stored, so no longer held twice.
    expect((await s.deployer.status()).recent.filter((r) => r.id === 'dup')).toHaveLength(1);
  });

  it('held records accumulate across steps that write nothing', async () => {
    const s = setup();
    await s.deployer.run(MYSQL);
    await s.deployer.run(pushOf('1.0.0'), { id: 'dup-1' });
    await s.deployer.run(pushOf('1.0.0'), { id: 'dup-2' });
    expect((await s.deployer.status()).recent.map((r) => r.id).slice(-2)).toEqual(['dup-1', 'dup-2']);
  });

  it('record() stores an outcome at once, keeping the generation, with the held ones', async () => {
    const s = setup();
    await s.deployer.run(MYSQL);
    await s.deployer.run(pushOf('1.0.0'), { id: 'dup' });
    const generation = s.storedState().generation;
    await s.deployer.record('poison', 'unreadable message', 'ignored', 'not JSON');
    const stored = s.storedState();
    expect(stored.generation).toBe(generation);
    expect(stored.recent.slice(-2)).toEqual([
      expect.objectContaining({ id: 'dup' }),
      { id: 'poison', trigger: 'unreadable message', outcome: 'ignored', reason: 'not JSON', at: expect.any(String) },
    ]);
    // Nothing held any more: a later write does not store them again.
    expect((await s.deployer.status()).recent.filter((r) => r.id === 'dup')).toHaveLength(1);
  });

  it('record() before any step creates the state with the record', async () => {
    const s = setup();
    await s.deployer.record('early', 'dead letter', 'dead-lettered', undefined);
    expect(s.storedState().recent).toEqual([{ id: 'early', trigger: 'dead letter', outcome: 'dead-lettered', at: expect.any(String) }]);
  });

  it('record() retries a lost write', async () => {
    const s = setup();
    await s.deployer.run(MYSQL);
    conflictOnClaims(s.target, 1);
    await s.deployer.record('poison', 'unreadable message', 'ignored', 'x');
    expect(s.storedState().recent.at(-1)).toMatchObject({ id: 'poison' });
  });

  it('a recomputed step stores its record once', async () => {
    const s = setup();
    await s.deployer.run(MYSQL);
    conflictOnClaims(s.target, 1);
    await s.deployer.run(pushOf('1.2.0'), { id: 'once' });
    expect(s.storedState().recent.filter((r: { id: string }) => r.id === 'once')).toHaveLength(1);
  });
});

describe('giving up', () => {
  it('after maxAttempts lost claims: 409, logging each conflict', async () => {
    const s = setup({ maxAttempts: 2 });
    conflictOnClaims(s.target, 5);
    const error = await s.deployer.run(MYSQL).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TargetError);
    expect((error as TargetError).message).toBe('gave up after 2 conflicting writes');
    expect((error as TargetError).statusCode).toBe(409);
    expect(s.lines.filter(([, message]) => message === 'write conflict: recomputing the step')).toHaveLength(2);
  });

  it('without the time to run at all: 409, saying so', async () => {
    const s = setup();
    const error = await s.deployer.run(MYSQL, { deadline: () => 500 }).catch((e: unknown) => e);
    expect((error as TargetError).message).toBe('out of time before the step could run');
    expect((error as TargetError).statusCode).toBe(409);
    expect(s.target.writes).toEqual([]);
  });

  it('by default survives more lost claims than the retry helper’s default of 5', async () => {
    // Fake timers: the backoff between recomputations would otherwise take seconds.
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate', 'queueMicrotask'] });
    try {
      const s = setup();
      let claims = 0;
      s.target.beforeWrite = (desired) => {
        if (desired.kind === 'ConfigMap' && (claims += 1) < 7) throw new ConflictError('lost (test)');
      };
      let settled = false;
      const running = s.deployer.run(MYSQL).finally(() => { settled = true; });
      while (!settled) await jest.advanceTimersByTimeAsync(2_000);
      expect((await running).outcome).toBe('applied');
      expect(claims).toBe(7);
    } finally {
      jest.useRealTimers();
    }
  });

  it('any other write failure is not retried', async () => {
    const s = setup();
    let writes = 0;
    s.target.beforeWrite = () => { writes += 1; throw new TargetError('forbidden', 403); };
    await expect(s.deployer.run(MYSQL)).rejects.toThrow('forbidden');
    expect(writes).toBe(1);
  });
});

describe('the scheduled refresh follows the policy', () => {
  it('semver: deploys the newest allowed tag, listing the tags once per event', async () => {
    const s = setup({ tags: ['1.0.0', '1.4.0', '2.0.0', '1.3.0'] });
    await s.deployer.run(MYSQL);
    expect(s.registry.listed()).toBe(0); // a config step lists nothing
    conflictOnClaims(s.target, 1);
    const report = await s.deployer.run({ hook: 'upgrade-charm' });
    expect(report.outcome).toBe('applied');
    expect(s.registry.listed()).toBe(1);
    expect(s.registry.requests.at(-1)).toMatchObject({ tag: '1.4.0' });
    expect(s.deployment()).toContain(digestOfTag('1.4.0'));
  });

  it('a push lists nothing', async () => {
    const s = setup({ tags: ['1.4.0'] });
    await s.deployer.run(MYSQL);
    await s.deployer.run(pushOf('1.2.0'));
    expect(s.registry.listed()).toBe(0);
  });

  it('track: re-resolves the tracked tag without listing', async () => {
    const s = setup({ policy: parseTagPolicy('track', image.tag), tags: ['1.4.0'] });
    await s.deployer.run(MYSQL);
    await s.deployer.run({ hook: 'upgrade-charm' });
    expect(s.registry.listed()).toBe(0);
    expect(s.registry.requests.at(-1)).toMatchObject({ tag: '1.0.0' });
  });

  it('a failed listing refreshes the deployed tag, and says so', async () => {
    const s = setup({ tags: ['1.4.0'] });
    await s.deployer.run(MYSQL);
    await s.deployer.run(pushOf('1.2.0'));
    s.registry.setList(new FetchError('listing refused'));
    const report = await s.deployer.run({ hook: 'upgrade-charm' });
    expect(report.outcome).toBe('applied');
    expect(s.registry.requests.at(-1)).toMatchObject({ tag: '1.2.0' });
    expect(s.lines).toContainEqual(['warn', 'tag listing failed: refreshing the deployed tag', { reason: 'listing refused' }]);
  });

  it('a listing that fails otherwise is an error', async () => {
    const s = setup({ tags: ['1.4.0'] });
    await s.deployer.run(MYSQL);
    s.registry.setList(new TypeError('a bug'));
    await expect(s.deployer.run({ hook: 'upgrade-charm' })).rejects.toThrow('a bug');
  });
});
