// The worker's batch (src/app/worker.ts) around a fake deployer, so each outcome
// can be had at will: what each record becomes, what is counted and logged,
// what is recorded, and which items SQS gets back.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import type { Deployer, StepReport, Trigger } from '../../src/app/deployer.js';
import { commandOf, createWorker } from '../../src/app/worker.js';
import type { Command } from '../../src/domain/commands.js';
import { parseImageRef } from '../../src/image/reference.js';
import type { Logger } from '../../src/log.js';
import type { CountName, Metrics } from '../../src/observability/metrics.js';
import { parseTagPolicy } from '../../src/policy/tag-policy.js';
import type { QueueRecord } from '../../src/queue/port.js';

const REGISTRY = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const image = parseImageRef(`${REGISTRY}/kubeflow/metadata:v0.1.8`);
const intake = { image, tagPolicy: parseTagPolicy('semver:^0.1', image.tag) };
const NOW = new Date('2026-02-03T04:05:06Z');
const sample = (name: string) => JSON.parse(readFileSync(new URL(`../../events/${name}`, import.meta.url), 'utf8'));
const refreshCommand: Command = { kind: 'refresh', id: 'refresh-1', receivedAt: NOW.toISOString() };

let sequence = 0;
function record(body: unknown, options: { group?: string; receives?: number | string } = {}): QueueRecord {
  sequence += 1;
  return {
    messageId: `m-${sequence}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: { ApproximateReceiveCount: String(options.receives ?? 1), ...(options.group === undefined ? {} : { MessageGroupId: options.group }) },
  };
}

const report = (outcome: StepReport['outcome'], reason?: string): StepReport => ({
  id: 'x', outcome, reason, status: { state: 'active', message: '' }, statusHistory: [], flags: [], resources: {}, failures: {}, changes: [], ignored: [], skipped: false,
});

/** A deployer whose run() answers what `answer` says for each call, recording everything. */
function fakeDeployer(answer: (trigger: Trigger, call: number) => StepReport | Error) {
  const runs: Array<{ trigger: Trigger; options: unknown }> = [];
  const records: unknown[][] = [];
  const deployer = {
    async run(trigger: Trigger, options: unknown) {
      runs.push({ trigger, options });
      const result = answer(trigger, runs.length);
      if (result instanceof Error) throw result;
      return result;
    },
    async record(...args: unknown[]) { records.push(args); },
    async status() { throw new Error('not used'); },
    names: {},
  } as unknown as Deployer;
  return { deployer, runs, records };
}

function harness(answer: (trigger: Trigger, call: number) => StepReport | Error, options: { withReports?: boolean; withMetrics?: boolean } = {}) {
  const fake = fakeDeployer(answer);
  const counts: Array<[CountName, number | undefined]> = [];
  const durations: number[] = [];
  const metrics: Metrics = { count: (name, value) => void counts.push([name, value]), stepDuration: (ms) => void durations.push(ms), flush: () => undefined };
  const lines: Array<[string, string, unknown]> = [];
  const correlation: Array<string | undefined> = [];
  const logger: Logger = {
    info: (m, f) => void lines.push(['info', m, f]),
    warn: (m, f) => void lines.push(['warn', m, f]),
    error: (m, f) => void lines.push(['error', m, f]),
    withCorrelation: (id) => void correlation.push(id),
  };
  const reports: StepReport[] = [];
  const worker = createWorker({
    deployer: fake.deployer, logger, intake, now: () => NOW,
    ...(options.withMetrics === false ? {} : { metrics }),
    ...(options.withReports === false ? {} : { onReport: (r: StepReport) => void reports.push(r) }),
  });
  const deadline = () => 60_000;
  return { ...fake, counts, durations, lines, correlation, reports, deadline, run: (...records: QueueRecord[]) => worker({ Records: records }, deadline) };
}

describe('commandOf', () => {
  const options = { ...intake, now: NOW };

  it('takes intake’s command as is', () => {
    expect(commandOf(record(refreshCommand), options)).toEqual(refreshCommand);
  });

  it('refuses what is not JSON, and JSON that is not a command', () => {
    expect(commandOf(record('{nope'), options)).toEqual({ refused: 'the message is not JSON' });
    expect(commandOf(record({ hello: 'world' }), options)).toEqual({ refused: 'the message is not a command' });
  });

  it('a scheduled event is a refresh command, identified by the event id', () => {
    const first = commandOf(record(sample('refresh.json')), options) as Command;
    const again = commandOf(record(sample('refresh.json')), options) as Command;
    const other = commandOf(record({ ...sample('refresh.json'), id: 'another' }), options) as Command;
    expect(first).toMatchObject({ kind: 'refresh', receivedAt: NOW.toISOString() });
    expect(again.id).toBe(first.id);
    expect(other.id).not.toBe(first.id);
  });

  it('an ECR push is a push command; one intake would ignore is refused with every reason', () => {
    const ecr = sample('push-ecr.json');
    expect(commandOf(record(ecr), options)).toMatchObject({ kind: 'push', pushes: [{ tag: 'v0.1.9', digest: ecr.detail['image-digest'] }] });
    const outside = { ...ecr, detail: { ...ecr.detail, 'image-tag': 'v9.0.0' } };
    expect(commandOf(record(outside), options)).toEqual({ refused: 'kubeflow/metadata:v9.0.0: tag outside the policy' });
  });

  it('an ECR event its parser refuses is refused with the parser’s words', () => {
    const broken = { ...sample('push-ecr.json'), detail: { ...sample('push-ecr.json').detail, 'image-digest': 'not-a-digest' } };
    const refused = commandOf(record(broken), options) as { refused: string };
    expect(refused.refused).toEqual(expect.any(String));
    expect(refused.refused.length).toBeGreaterThan(0);
    expect(refused.refused).not.toMatch(/not a command|not JSON/);
  });
});

describe('one record', () => {
  it('applied: counted, timed, reported, logged, acknowledged, under the command’s correlation id', async () => {
    const h = harness(() => report('applied'));
    expect(await h.run(record(refreshCommand))).toEqual({ batchItemFailures: [] });
    expect(h.runs).toEqual([{ trigger: { hook: 'upgrade-charm' }, options: { id: 'refresh-1', trigger: 'scheduled refresh', deadline: h.deadline } }]);
    expect(h.counts).toEqual([['Applied', undefined]]);
    expect(h.durations).toHaveLength(1);
    expect(h.durations[0]).toBeGreaterThanOrEqual(0);
    expect(h.durations[0]).toBeLessThan(10_000);
    expect(h.reports).toHaveLength(1);
    expect(h.lines).toEqual([['info', 'step done', { id: 'refresh-1', outcome: 'applied', reason: undefined, status: { state: 'active', message: '' }, changes: [] }]]);
    expect(h.correlation).toEqual(['refresh-1', undefined]);
  });

  it('ignored: counted as Ignored', async () => {
    const h = harness(() => report('ignored', 'already deployed'));
    expect(await h.run(record(refreshCommand))).toEqual({ batchItemFailures: [] });
    expect(h.counts).toEqual([['Ignored', undefined]]);
  });

  it('failed: counted once as Failed, retried (a batch item failure), logged with the reason', async () => {
    const h = harness(() => report('failed', 'registry down'));
    const message = record(refreshCommand, { receives: 2 });
    expect(await h.run(message)).toEqual({ batchItemFailures: [{ itemIdentifier: message.messageId }] });
    expect(h.counts).toEqual([['Failed', undefined]]);
    expect(h.lines.at(-1)).toEqual(['warn', 'step failed', { id: 'refresh-1', receives: 2, reason: 'registry down' }]);
    expect(h.records).toEqual([]);
  });

  it('failed without a reason: the step failed', async () => {
    const h = harness(() => report('failed'));
    await h.run(record(refreshCommand));
    expect(h.lines.at(-1)).toEqual(['warn', 'step failed', { id: 'refresh-1', receives: 1, reason: 'the step failed' }]);
  });

  it('a thrown step is counted as Failed and retried', async () => {
    const h = harness(() => new Error('cluster unreachable'));
    const message = record(refreshCommand);
    expect(await h.run(message)).toEqual({ batchItemFailures: [{ itemIdentifier: message.messageId }] });
    expect(h.counts).toEqual([['Failed', undefined]]);
    expect(h.lines.at(-1)).toEqual(['warn', 'step failed', { id: 'refresh-1', receives: 1, reason: 'cluster unreachable' }]);
  });

  it('a thrown non-Error is logged as text', async () => {
    const h = harness(() => { throw 'plain text'; });
    await h.run(record(refreshCommand));
    expect(h.lines.at(-1)).toEqual(['warn', 'step failed', { id: 'refresh-1', receives: 1, reason: 'plain text' }]);
  });

  it('on the last receive: dead-lettered in the audit trail, counted, still a batch item failure', async () => {
    const h = harness(() => report('failed', 'registry down'));
    const message = record(refreshCommand, { receives: 5 });
    expect(await h.run(message)).toEqual({ batchItemFailures: [{ itemIdentifier: message.messageId }] });
    expect(h.counts).toEqual([['Failed', undefined], ['DeadLettered', undefined]]);
    expect(h.records).toEqual([['refresh-1', 'scheduled refresh', 'dead-lettered', 'after 5 receives: registry down', h.deadline]]);
  });

  it('before the last receive nothing is dead-lettered; an unreadable count is the first receive', async () => {
    const h = harness(() => report('failed', 'x'));
    await h.run(record(refreshCommand, { receives: 4 }));
    await h.run(record(refreshCommand, { receives: 'n/a' }));
    expect(h.records).toEqual([]);
    expect(h.lines.filter(([, m]) => m === 'step failed').map(([, , f]) => (f as { receives: number }).receives)).toEqual([4, 1]);
  });

  it('a refused message: acknowledged, counted as Ignored, recorded under its message id', async () => {
    const h = harness(() => report('applied'));
    const message = record('{nope');
    expect(await h.run(message)).toEqual({ batchItemFailures: [] });
    expect(h.runs).toEqual([]);
    expect(h.counts).toEqual([['Ignored', undefined]]);
    expect(h.records).toEqual([[message.messageId, 'unreadable message', 'ignored', 'the message is not JSON', h.deadline]]);
    expect(h.lines).toEqual([['warn', 'queue message refused', { messageId: message.messageId, reason: 'the message is not JSON' }]]);
    expect(h.correlation).toEqual([message.messageId, undefined]);
  });

  it('works without metrics and without a report callback', async () => {
    const h = harness(() => report('applied'), { withMetrics: false, withReports: false });
    expect(await h.run(record(refreshCommand))).toEqual({ batchItemFailures: [] });
    expect(h.runs).toHaveLength(1);
  });
});

describe('a batch', () => {
  it('FIFO: after a failure in a group, the rest of that group fails unseen; other groups and ungrouped records run', async () => {
    const h = harness((_trigger, call) => (call === 1 ? report('failed', 'x') : report('applied')));
    const a1 = record(refreshCommand, { group: 'a' });
    const a2 = record(refreshCommand, { group: 'a' });
    const b1 = record(refreshCommand, { group: 'b' });
    const n1 = record(refreshCommand);
    expect(await h.run(a1, a2, b1, n1)).toEqual({ batchItemFailures: [{ itemIdentifier: a1.messageId }, { itemIdentifier: a2.messageId }] });
    expect(h.runs).toHaveLength(3);
  });

  it('records without a group share one: a failure holds the later ungrouped ones', async () => {
    const h = harness((_trigger, call) => (call === 1 ? report('failed', 'x') : report('applied')));
    const n1 = record(refreshCommand);
    const n2 = record(refreshCommand);
    const g = record(refreshCommand, { group: '' });
    expect(await h.run(n1, n2, g)).toEqual({ batchItemFailures: [{ itemIdentifier: n1.messageId }, { itemIdentifier: n2.messageId }, { itemIdentifier: g.messageId }] });
    expect(h.runs).toHaveLength(1);
  });
});
