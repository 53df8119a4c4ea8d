// The rollout's part of the shell (src/app/rollout-step.ts), function by function: the words a step
// is told in (providerOf, describeTrigger, changeCauseOf, verdictReason), following a rollout
// (followRollout) and the announcer (Events, log lines, one notification per verdict). Recording
// fakes only: no target, no peer. Every call into src/ stays inside an `it` (see jest.mutation.config.js).
import { describe, expect, it } from '@jest/globals';
import { changeCauseOf, createAnnouncer, describeTrigger, followRollout, providerOf, verdictReason, type AnnouncerOptions } from '../../src/app/rollout-step.js';
import type { Selection } from '../../src/app/plan.js';
import type { FetchOutcome } from '../../src/charm/context.js';
import { initialState, type CharmState, type RolloutRecord } from '../../src/charm/state.js';
import type { Trigger } from '../../src/domain/commands.js';
import { TargetError } from '../../src/errors.js';
import type { Notification, NotifyResult } from '../../src/notify/port.js';
import type { DeployerEvent, EventRecorder, Regarding } from '../../src/record/events.js';
import type { RolloutObserver } from '../../src/rollout/port.js';
import { recordingLogger } from './support/recording-logger.js';

const DIGEST_A = `sha256:${'a'.repeat(64)}`;
const DIGEST_B = `sha256:${'b'.repeat(64)}`;
const PATH_A = `r.example/kf/metadata@${DIGEST_A}`;
const PATH_B = `r.example/kf/metadata@${DIGEST_B}`;


function recordingEvents() {
  const recorded: Array<[DeployerEvent, Omit<Regarding, 'name'> | undefined]> = [];
  const deadlines: Array<(() => number) | undefined> = [];
  const events: EventRecorder = {
    record: async (event, regarding, call) => (recorded.push([event, regarding]), deadlines.push(call?.deadline), { ok: true, name: `d.${recorded.length}` }),
  };
  return { events, recorded, deadlines };
}

function recordingNotifier(answer: (n: Notification) => Promise<NotifyResult[]> = async () => [{ ok: true, channel: 'slack', status: 200, ms: 1 }]) {
  const sent: Notification[] = [];
  return { notifier: { notify: (n: Notification) => (sent.push(n), answer(n)) }, sent };
}

const selection = (overrides: Partial<Selection> = {}): Selection => ({ hook: 'upgrade-charm', ignored: [], skip: false, ...overrides });
const fetchedImage = (digest: string, path: string, tag?: string): Record<string, FetchOutcome> =>
  ({ 'oci-image': { ok: true, info: { registryPath: path, digest, tag } } });

/** A state with the image A deployed (and started), optionally in a rollout. */
function stateWith(rollout?: RolloutRecord, overrides: Partial<CharmState> = {}): CharmState {
  return {
    ...initialState(),
    flags: ['charm.started'],
    resources: { 'oci-image': { registryPath: PATH_A, digest: DIGEST_A, tag: '1.0.0', authenticated: false } },
    status: { state: 'active', message: '' },
    ...(rollout ? { rollout } : {}),
    ...overrides,
  };
}

const progressing: RolloutRecord = { state: 'progressing', since: '2026-01-01T00:00:00.000Z', id: 'e0', spec: 'spec-a', digest: DIGEST_A };

describe('providerOf', () => {
  it.each<[string, Trigger, string]>([
    ['a config change', { hook: 'config-changed' }, 'config'],
    ['a config change with data', { hook: 'config-changed', config: { port: 9090 } }, 'config'],
    ['a control request on a resource update', { hook: 'upgrade-charm', control: { pin: { tag: '1.2.3' } } }, 'control'],
    ['a control request on update-status', { hook: 'update-status', control: { suspend: true } }, 'control'],
    ['a rollout check', { hook: 'update-status', check: 'e1' }, 'rollout'],
    ['a verdict', { hook: 'update-status', verdict: { state: 'complete' } }, 'rollout'],
    ['a push', { hook: 'upgrade-charm', pushes: [{ provider: 'ecr', repository: 'kf/metadata', tag: '1.0.0' }, { provider: 'quay', repository: 'kf/metadata' }] }, 'ecr'],
    ['no pushes (a refresh)', { hook: 'upgrade-charm' }, 'refresh'],
    ['an empty push list', { hook: 'upgrade-charm', pushes: [] }, 'refresh'],
    ['a refresh with its tag', { hook: 'upgrade-charm', tag: '1.1.0' }, 'refresh'],
  ])('%s', (_name, trigger, provider) => {
    expect(providerOf(trigger)).toBe(provider);
  });
});

describe('describeTrigger', () => {
  it.each<[string, Trigger, string]>([
    ['a config change', { hook: 'config-changed', config: { port: 9090 } }, 'config'],
    ['a pin', { hook: 'upgrade-charm', control: { pin: { tag: '1.2.3' } } }, 'control pin tag 1.2.3'],
    ['a suspension', { hook: 'update-status', control: { suspend: true } }, 'control suspend'],
    ['a rollout check', { hook: 'update-status', check: 'e1' }, 'rollout check'],
    ['a push', { hook: 'upgrade-charm', pushes: [{ provider: 'ecr', repository: 'kf/metadata', tag: '1.0.0' }] }, 'push'],
    ['a refresh', { hook: 'upgrade-charm' }, 'refresh'],
  ])('%s', (_name, trigger, words) => {
    expect(describeTrigger(trigger)).toBe(words);
  });
});

describe('changeCauseOf', () => {
  const push: Trigger = { hook: 'upgrade-charm', pushes: [{ provider: 'ecr', repository: 'kf/metadata', tag: '1.1.0' }] };

  it('a config change: ConfigApplied by config, whatever was fetched', () => {
    expect(changeCauseOf({ hook: 'config-changed' }, selection({ hook: 'config-changed' }), stateWith(), fetchedImage(DIGEST_B, PATH_B, '1.1.0'), 'e1'))
      .toBe('ConfigApplied: (provider config, event e1)');
    expect(changeCauseOf({ hook: 'config-changed' }, selection({ hook: 'config-changed' }), undefined, {}, 'e2')).toBe('ConfigApplied: (provider config, event e2)');
  });

  it('a fetched image: ImageUpdated from the deployed image to the fetched one', () => {
    expect(changeCauseOf(push, selection(), stateWith(), fetchedImage(DIGEST_B, PATH_B, '1.1.0'), 'e1'))
      .toBe(`ImageUpdated: ${PATH_A} → ${PATH_B} (provider ecr, event e1, tag 1.1.0, digest ${DIGEST_B})`);
  });

  it('nothing deployed yet: no "from"', () => {
    expect(changeCauseOf({ hook: 'upgrade-charm' }, selection(), undefined, fetchedImage(DIGEST_B, PATH_B), 'e1'))
      .toBe(`ImageUpdated: → ${PATH_B} (provider refresh, event e1, digest ${DIGEST_B})`);
  });

  it('a pin: Pinned, with the same facts', () => {
    const pin: Trigger = { hook: 'upgrade-charm', control: { pin: { tag: '1.1.0' } } };
    expect(changeCauseOf(pin, selection({ control: { pin: { tag: '1.1.0' } } }), stateWith(), fetchedImage(DIGEST_B, PATH_B, '1.1.0'), 'e1'))
      .toBe(`Pinned: ${PATH_A} → ${PATH_B} (provider control, event e1, tag 1.1.0, digest ${DIGEST_B})`);
    // A pin whose image was not fetched still says Pinned (from what is deployed).
    expect(changeCauseOf(pin, selection({ control: { pin: { tag: '1.1.0' } } }), stateWith(), {}, 'e1'))
      .toBe(`Pinned: ${PATH_A} → (provider control, event e1)`);
  });

  it('another control request (unpin) that fetched an image: ImageUpdated, by control', () => {
    const unpin: Trigger = { hook: 'upgrade-charm', control: { unpin: true } };
    expect(changeCauseOf(unpin, selection({ control: { unpin: true } }), stateWith(), fetchedImage(DIGEST_B, PATH_B, '1.1.0'), 'e1'))
      .toBe(`ImageUpdated: ${PATH_A} → ${PATH_B} (provider control, event e1, tag 1.1.0, digest ${DIGEST_B})`);
  });

  it('no image, or a failed fetch: no change-cause', () => {
    expect(changeCauseOf(push, selection(), stateWith(), {}, 'e1')).toBeUndefined();
    expect(changeCauseOf(push, selection(), stateWith(), { 'oci-image': { ok: false, reason: 'down' } }, 'e1')).toBeUndefined();
    expect(changeCauseOf(push, selection(), stateWith(), { other: fetchedImage(DIGEST_B, PATH_B)['oci-image']! }, 'e1')).toBeUndefined();
  });
});

describe('verdictReason', () => {
  const withRollout = (rollout: Partial<RolloutRecord>) => stateWith({ ...progressing, ...rollout });

  it('no rollout: none', () => {
    expect(verdictReason(stateWith())).toBeUndefined();
  });

  it.each<[string, Partial<RolloutRecord>, string]>([
    ['a revert in progress', { revert: true, reason: 'pod p CrashLoopBackOff' }, 'rollout failed: pod p CrashLoopBackOff; reverting'],
    ['a revert in progress, no reason', { revert: true }, 'rollout failed: unknown; reverting'],
    ['a failed rollout', { state: 'failed', reason: 'pod p CrashLoopBackOff' }, 'rollout failed: pod p CrashLoopBackOff'],
    ['a failed rollout, no reason', { state: 'failed' }, 'rollout failed: unknown'],
    ['a failed revert', { state: 'failed', revert: true, reason: 'again' }, 'rollout failed: again'],
    ['a failed revert, no reason', { state: 'failed', revert: true }, 'rollout failed: unknown'],
    ['a complete revert', { state: 'complete', revert: true, reason: 'pod p CrashLoopBackOff' }, 'rollout failed: pod p CrashLoopBackOff; reverted'],
    ['a complete revert, no reason', { state: 'complete', revert: true }, 'rollout failed: unknown; reverted'],
    ['a complete rollout', { state: 'complete' }, 'rollout complete'],
    ['a complete rollout with a stray reason', { state: 'complete', reason: 'x' }, 'rollout complete'],
    ['a rollout still in progress (not a revert)', {}, 'rollout complete'],
  ])('%s', (_name, rollout, reason) => {
    expect(verdictReason(withRollout(rollout))).toBe(reason);
  });
});

describe('followRollout', () => {
  it('without a deadline: the observer gets one of 60 s, and `since`', async () => {
    const { logger, lines } = recordingLogger();
    const asked: Array<{ deadline: () => number; since?: string }> = [];
    const observer: RolloutObserver = { follow: async (options) => (asked.push(options), { state: 'complete', outOfTime: false }) };
    await expect(followRollout(observer, 'T0', undefined, logger)).resolves.toEqual({ state: 'complete', outOfTime: false });
    expect(asked).toHaveLength(1);
    expect(asked[0]!.since).toBe('T0');
    expect(asked[0]!.deadline()).toBe(60_000);
    expect(lines).toEqual([]);
  });

  it('with a deadline: that one', async () => {
    const { logger } = recordingLogger();
    const deadline = () => 1234;
    const asked: Array<{ deadline: () => number; since?: string }> = [];
    const observer: RolloutObserver = { follow: async (options) => (asked.push(options), { state: 'failed', reason: 'r', outOfTime: false }) };
    await expect(followRollout(observer, 'T1', deadline, logger)).resolves.toEqual({ state: 'failed', reason: 'r', outOfTime: false });
    expect(asked[0]!.deadline).toBe(deadline);
    expect(asked[0]!.since).toBe('T1');
  });

  it('a TargetError (RBAC, a gone Deployment): progressing, not out of time, and logged', async () => {
    const { logger, lines } = recordingLogger();
    const observer: RolloutObserver = { follow: async () => { throw new TargetError('deployments is forbidden', 403); } };
    await expect(followRollout(observer, 'T0', undefined, logger)).resolves.toStrictEqual({ state: 'progressing', reason: 'deployments is forbidden', outOfTime: false });
    expect(lines).toEqual([['warn', 'rollout not observed', { reason: 'deployments is forbidden' }]]);
  });

  it('any other error is rethrown, unlogged', async () => {
    const { logger, lines } = recordingLogger();
    const boom = new Error('a bug');
    const observer: RolloutObserver = { follow: async () => { throw boom; } };
    await expect(followRollout(observer, 'T0', undefined, logger)).rejects.toBe(boom);
    expect(lines).toEqual([]);
  });
});

describe('the announcer', () => {
  const AT = new Date('2026-02-03T04:05:06.789Z');
  const options = (overrides: Partial<AnnouncerOptions>): AnnouncerOptions => ({ namespace: 'kubeflow', app: 'kubeflow-metadata', logger: recordingLogger().logger, now: () => AT, ...overrides });

  /** A rollout that completes: one verdict, RolloutComplete. */
  const before = stateWith(progressing);
  const completed = stateWith({ ...progressing, state: 'complete', since: '2026-01-01T00:01:00.000Z' });
  /** A rollout of B that failed and is reverted to A: RolloutFailed, Quarantined, Reverted. */
  const beforeB = stateWith({ ...progressing, spec: 'spec-b', digest: DIGEST_B }, {
    resources: { 'oci-image': { registryPath: PATH_B, digest: DIGEST_B, tag: '1.1.0', authenticated: false } },
  });
  const reverted = stateWith({ state: 'progressing', since: '2026-01-01T00:02:00.000Z', id: 'e2', spec: 'spec-a', digest: DIGEST_A, revert: true, reason: 'crash' }, {
    quarantine: { [DIGEST_B]: { reason: 'crash', at: '2026-01-01T00:02:00.000Z' } },
    status: { state: 'blocked', message: 'rollout failed: crash' },
  });

  it('records each Event with the Deployment uid, and logs each as "step told"', async () => {
    const { logger, lines } = recordingLogger();
    const { events, recorded } = recordingEvents();
    await createAnnouncer(options({ logger, events })).announce(beforeB, reverted, { provider: 'ecr', eventId: 'e2' }, 'uid-1');
    expect(recorded.map(([event]) => event.reason)).toEqual(['RolloutFailed', 'Quarantined', 'Reverted']);
    expect(recorded.map(([, regarding]) => regarding)).toEqual([{ uid: 'uid-1' }, { uid: 'uid-1' }, { uid: 'uid-1' }]);
    expect(lines).toEqual([
      ['info', 'step told', { reason: 'RolloutFailed', summary: 'rollout failed: crash' }],
      ['info', 'step told', { reason: 'Quarantined', summary: `${DIGEST_B} quarantined: crash` }],
      ['info', 'step told', { reason: 'Reverted', summary: `reverted to the last Available image ${PATH_A}` }],
    ]);
  });

  it("passes the step's deadline to every Event it records", async () => {
    const { events, recorded, deadlines } = recordingEvents();
    const deadline = () => 1234;
    await createAnnouncer(options({ events })).announce(beforeB, reverted, { eventId: 'e2' }, 'uid-1', deadline);
    expect(recorded).toHaveLength(3);
    expect(deadlines).toEqual([deadline, deadline, deadline]);
  });

  it('without a uid: `{}` as the regarding', async () => {
    const { events, recorded } = recordingEvents();
    await createAnnouncer(options({ events })).announce(before, completed, {}, undefined);
    expect(recorded).toHaveLength(1);
    expect(recorded[0]![1]).toStrictEqual({});
  });

  it('without an Event recorder or a notifier: only the log lines', async () => {
    const { logger, lines } = recordingLogger();
    await expect(createAnnouncer(options({ logger })).announce(before, completed, {}, 'uid-1')).resolves.toBeUndefined();
    expect(lines).toEqual([['info', 'step told', { reason: 'RolloutComplete', summary: `rollout of ${DIGEST_A} complete` }]]);
  });

  it('one notification per verdict, with its id, words, status and time', async () => {
    const { notifier, sent } = recordingNotifier();
    const { logger, lines } = recordingLogger();
    await createAnnouncer(options({ logger, notifier })).announce(before, completed, { provider: 'ecr', eventId: 'e1' }, 'uid-1');
    expect(sent).toStrictEqual([{
      id: 'e1:RolloutComplete:2026-01-01T00:01:00.000Z', event: 'RolloutComplete', namespace: 'kubeflow', app: 'kubeflow-metadata',
      summary: `rollout of ${DIGEST_A} complete`, status: { state: 'active', message: '' },
      trigger: { provider: 'rollout', eventId: 'e1', digest: DIGEST_A }, at: '2026-02-03T04:05:06.789Z',
    }]);
    expect(lines.filter(([level]) => level === 'warn')).toEqual([]);
  });

  it('a reverted failure: only the verdict is notified, saying it was reverted', async () => {
    const { notifier, sent } = recordingNotifier();
    await createAnnouncer(options({ notifier })).announce(beforeB, reverted, { eventId: 'e2' }, undefined);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({
      id: 'e2:RolloutFailed:2026-01-01T00:02:00.000Z', event: 'RolloutFailed',
      summary: 'rollout failed: crash; reverted to the last Available image', status: { state: 'blocked', message: 'rollout failed: crash' },
    });
  });

  it('without an event id: "step" in the notification id', async () => {
    const { notifier, sent } = recordingNotifier();
    await createAnnouncer(options({ notifier })).announce(before, completed, {}, undefined);
    expect(sent.map((n) => n.id)).toEqual(['step:RolloutComplete:2026-01-01T00:01:00.000Z']);
  });

  it('a rollout on record without its time (a hand-edited state): the id ends empty, never "undefined"', async () => {
    const { notifier, sent } = recordingNotifier();
    const { since: _since, ...timeless } = completed.rollout!;
    await createAnnouncer(options({ notifier })).announce(before, { ...completed, rollout: timeless as RolloutRecord }, { eventId: 'e1' }, undefined);
    expect(sent.map((n) => n.id)).toEqual(['e1:RolloutComplete:']);
  });

  it('no verdict: nothing notified', async () => {
    const { notifier, sent } = recordingNotifier();
    const quarantinedOnly = stateWith(undefined, { quarantine: { [DIGEST_B]: { reason: 'x', at: 'T' } } });
    await createAnnouncer(options({ notifier })).announce(stateWith(), quarantinedOnly, {}, undefined);
    expect(sent).toEqual([]);
  });

  it('without `now`: the time of the call', async () => {
    const { notifier, sent } = recordingNotifier();
    const { now: _now, ...rest } = options({ notifier });
    const start = Date.now();
    await createAnnouncer(rest).announce(before, completed, {}, undefined);
    const at = Date.parse(sent[0]!.at);
    expect(at).toBeGreaterThanOrEqual(start);
    expect(at).toBeLessThanOrEqual(Date.now());
  });

  it('each failed delivery is logged as "notification not delivered"; delivered ones are not', async () => {
    const { logger, lines } = recordingLogger();
    const { notifier } = recordingNotifier(async () => [
      { ok: true, channel: 'slack', status: 200, ms: 3 },
      { ok: false, channel: 'webhook', error: '503 unavailable', status: 503, timedOut: false, ms: 4 },
      { ok: false, channel: 'pager', error: 'timed out', timedOut: true, ms: 5000 },
    ]);
    await createAnnouncer(options({ logger, notifier })).announce(before, completed, { eventId: 'e1' }, undefined);
    expect(lines.filter(([level]) => level === 'warn')).toEqual([
      ['warn', 'notification not delivered', { channel: 'webhook', error: '503 unavailable' }],
      ['warn', 'notification not delivered', { channel: 'pager', error: 'timed out' }],
    ]);
  });

  it('a notifier that throws is one failed delivery, logged; the announcement does not fail', async () => {
    const { logger, lines } = recordingLogger();
    const { notifier, sent } = recordingNotifier(async () => { throw new Error('socket hang up'); });
    await expect(createAnnouncer(options({ logger, notifier })).announce(before, completed, { eventId: 'e1' }, undefined)).resolves.toBeUndefined();
    expect(sent).toHaveLength(1);
    expect(lines).toEqual([
      ['info', 'step told', { reason: 'RolloutComplete', summary: `rollout of ${DIGEST_A} complete` }],
      ['warn', 'notification not delivered', { channel: '?', error: 'Error: socket hang up' }],
    ]);
  });
});
