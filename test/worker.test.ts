// The worker (src/app/worker.ts): each queue record is one step of a real
// deployer on a temporary directory target, with a stub fetcher. Poison
// messages are acknowledged and recorded; ECR and scheduled EventBridge bodies
// are commands; a transient failure is a batch item failure (and dead-lettered
// in the audit trail on the last receive); FIFO within a group; a bogus digest
// is acknowledged and ignored without rewriting the state.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { createDeployer, type Deployer, type StepReport } from '../src/app/deployer.js';
import { createWorker } from '../src/app/worker.js';
import { BogusEventError, FetchError } from '../src/errors.js';
import { parseImageRef } from '../src/image/reference.js';
import { pushCommand } from '../src/intake/commands.js';
import { createLogger } from '../src/log.js';
import { parseTagPolicy } from '../src/policy/tag-policy.js';
import type { QueueRecord } from '../src/queue/port.js';
import type { FetchRequest, ResourceFetcher } from '../src/resource/port.js';
import { createDirectoryTarget } from '../src/targets/directory.js';
import { observe, watchSecrets } from './support/leak-guard.js';

const REGISTRY = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const image = parseImageRef(`${REGISTRY}/kubeflow/metadata:v0.1.8`);
const tagPolicy = parseTagPolicy('semver:^0.1', image.tag);
const PULL_PASSWORD = 'worker-test-pull-password';
const MYSQL_PASSWORD = 'worker-test-mysql-password';
watchSecrets(PULL_PASSWORD, MYSQL_PASSWORD);
const digest = (c: string) => `sha256:${c.repeat(64)}`;
const STATE_FILE = 'configmap-kubeflow-metadata-deployer-state.yaml';

/** What the stub registry does for a tag: answer, fail for now, or say the digest is not there. */
type Behaviour = 'ok' | 'transient' | 'bogus';
let behaviour: Map<string, Behaviour>;
let requests: FetchRequest[];
const fetcher: ResourceFetcher = {
  async fetch(request) {
    requests.push(request);
    const tag = request.tag ?? image.tag;
    const what = behaviour.get(tag) ?? 'ok';
    if (what === 'transient') throw new FetchError('x');
    if (what === 'bogus') throw new BogusEventError(`the registry has no manifest ${request.digest}`);
    const pinned = request.digest ?? digest('e');
    return { registryPath: `${REGISTRY}/kubeflow/metadata@${pinned}`, digest: pinned, tag, pushedAt: request.pushedAt, credentials: { username: 'AWS', password: PULL_PASSWORD } };
  },
};

let dir: string;
let deployer: Deployer;
let reports: StepReport[];
let logs: string[];
let worker: ReturnType<typeof createWorker>;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kfm-worker-'));
  behaviour = new Map();
  requests = [];
  reports = [];
  logs = [];
  const logger = createLogger((line) => { logs.push(line); observe('a worker log line', line); });
  deployer = createDeployer({ app: 'kubeflow-metadata', namespace: 'kubeflow', image, tagPolicy, setStatus: true, target: createDirectoryTarget({ path: dir, namespace: 'kubeflow' }), fetcher, logger });
  worker = createWorker({ deployer, logger, intake: { image, tagPolicy }, onReport: (report) => { reports.push(report); observe('a step report', JSON.stringify(report)); } });
});
afterEach(async () => { await rm(dir, { recursive: true, force: true }); });

let sequence = 0;
function record(body: unknown, options: { group?: string; receives?: number } = {}): QueueRecord {
  sequence += 1;
  return {
    messageId: `message-${sequence}`,
    body: typeof body === 'string' ? body : JSON.stringify(body),
    attributes: { ApproximateReceiveCount: String(options.receives ?? 1), MessageGroupId: options.group ?? 'kubeflow/kubeflow-metadata' },
  };
}
/** Intake's command for one generic push. */
function push(tag: string, c: string) {
  const accepted = pushCommand({ events: [{ provider: 'generic', registry: REGISTRY, repository: 'kubeflow/metadata', tag, digest: digest(c) }], ignored: [] }, { image, tagPolicy, now: new Date() });
  if (!accepted.command) throw new Error(`intake ignored ${tag}: ${accepted.ignored.join('; ')}`);
  return accepted.command;
}
const configCommand = { kind: 'config', id: 'config-worker-test', receivedAt: new Date().toISOString(), mysql: { host: 'mysql', port: 3306, user: 'root', password: MYSQL_PASSWORD } };
const run = (...records: QueueRecord[]) => worker({ Records: records }, () => 60_000);
const deployedImage = async () => (await createDirectoryTarget({ path: dir, namespace: 'kubeflow' }).read({ kind: 'Deployment', name: 'kubeflow-metadata' }))?.spec as any;
const storedState = async () => JSON.parse(((await createDirectoryTarget({ path: dir, namespace: 'kubeflow' }).read({ kind: 'ConfigMap', name: 'kubeflow-metadata-deployer-state' }))!.data as Record<string, string>)['state.json']!);
const recentOf = async (id: string) => (await deployer.status()).recent.find((entry) => entry.id === id);

describe('poison messages', () => {
  it.each([
    ['not JSON', '{"kind": "push", ', 'the message is not JSON'],
    ['JSON but not a command', { hello: 'world' }, 'the message is not a command'],
    ['a command with an invalid field', { kind: 'push', id: 'x', receivedAt: 'now', pushes: [] }, 'the message is not a command'],
  ])('%s: acknowledged (never retried) and recorded as ignored', async (_name, body, reason) => {
    const poison = record(body);
    expect(await run(poison)).toEqual({ batchItemFailures: [] });
    expect(await recentOf(poison.messageId)).toMatchObject({ outcome: 'ignored', reason });
    // Stored at once (it must survive the process), not only held in memory.
    expect((await storedState()).recent).toEqual(expect.arrayContaining([expect.objectContaining({ id: poison.messageId, outcome: 'ignored' })]));
    expect(requests).toEqual([]);
    expect(reports).toEqual([]);
  });
});

describe('EventBridge bodies the queue gets directly', () => {
  const sample = (file: string) => JSON.parse(readFileSync(new URL(`../events/${file}`, import.meta.url), 'utf8'));

  it('an ECR push event is a push command: fetched, applied, recorded', async () => {
    await run(record(configCommand));
    const ecr = sample('push-ecr.json');
    expect(await run(record(ecr))).toEqual({ batchItemFailures: [] });
    expect(requests.at(-1)).toMatchObject({ tag: 'v0.1.9', digest: ecr.detail['image-digest'] });
    const report = reports.at(-1)!;
    expect(report).toMatchObject({ outcome: 'applied', status: { state: 'active', message: '' } });
    expect((await deployedImage()).template.spec.containers[0].image).toBe(`${REGISTRY}/kubeflow/metadata@${ecr.detail['image-digest']}`);
    expect(await recentOf(report.id)).toMatchObject({ outcome: 'applied', trigger: 'ecr kubeflow/metadata:v0.1.9' });
  });

  it('an ECR event intake would ignore (a delete) is acknowledged and recorded as ignored', async () => {
    const deleted = { ...sample('push-ecr.json'), detail: { ...sample('push-ecr.json').detail, 'action-type': 'DELETE' } };
    const message = record(deleted);
    expect(await run(message)).toEqual({ batchItemFailures: [] });
    expect(await recentOf(message.messageId)).toMatchObject({ outcome: 'ignored', reason: 'ecr: action-type DELETE' });
    expect(requests).toEqual([]);
  });

  it('a scheduled event is a refresh command: the deployed tag is fetched again', async () => {
    await run(record(configCommand));
    await run(record(push('v0.1.9', '1')));
    requests = [];
    expect(await run(record(sample('refresh.json')))).toEqual({ batchItemFailures: [] });
    expect(requests).toHaveLength(1);
    expect(requests[0]).toMatchObject({ tag: 'v0.1.9', digest: undefined });
    expect(reports.at(-1)).toMatchObject({ outcome: 'applied', id: expect.stringMatching(/^refresh-/) });
    expect(await recentOf(reports.at(-1)!.id)).toMatchObject({ trigger: 'scheduled refresh' });
  });
});

describe('transient failures', () => {
  it('a transient fetch failure is a batch item failure, retried, and on the 5th receive recorded as dead-lettered', async () => {
    await run(record(configCommand));
    behaviour.set('v0.1.9', 'transient');
    const command = push('v0.1.9', '1');
    const first = record(command, { receives: 1 });
    expect(await run(first)).toEqual({ batchItemFailures: [{ itemIdentifier: first.messageId }] });
    expect(reports.at(-1)).toMatchObject({ id: command.id, outcome: 'failed', reason: 'x' });
    expect(await recentOf(command.id)).toMatchObject({ outcome: 'failed', reason: 'x' });
    const last = record(command, { receives: 5 });
    expect(await run(last)).toEqual({ batchItemFailures: [{ itemIdentifier: last.messageId }] });
    expect(await recentOf(command.id)).toMatchObject({ outcome: 'dead-lettered', reason: expect.stringContaining('after 5 receives') });
    expect((await storedState()).recent).toEqual(expect.arrayContaining([expect.objectContaining({ id: command.id, outcome: 'dead-lettered' })]));
  });

  it('FIFO: once a record of a group fails, the later ones of that group fail unseen; another group runs', async () => {
    await run(record(configCommand));
    behaviour.set('v0.1.9', 'transient');
    requests = [];
    const a1 = record(push('v0.1.9', '1'), { group: 'a' });
    const a2 = record(push('v0.1.10', '2'), { group: 'a' });
    const b1 = record(push('v0.1.11', '3'), { group: 'b' });
    const result = await run(a1, a2, b1);
    expect(result.batchItemFailures).toEqual([{ itemIdentifier: a1.messageId }, { itemIdentifier: a2.messageId }]);
    expect(requests.map((request) => request.tag)).toEqual(['v0.1.9', 'v0.1.11']); // a2 was never run
    expect(reports.map((report) => report.outcome)).toEqual(['applied', 'failed', 'applied']);
    expect((await deployedImage()).template.spec.containers[0].image).toBe(`${REGISTRY}/kubeflow/metadata@${digest('3')}`);
  });
});

describe('a bogus digest', () => {
  it('is acknowledged, ignored with the reason, and the state object is not rewritten', async () => {
    await run(record(configCommand));
    await run(record(push('v0.1.9', '1')));
    const file = join(dir, 'kubeflow', STATE_FILE);
    const before = { text: await readFile(file, 'utf8'), mtime: (await stat(file)).mtimeMs };
    const deployment = await deployedImage();
    behaviour.set('v0.1.10', 'bogus');
    const bogus = push('v0.1.10', 'f');
    const message = record(bogus);
    await new Promise((resolve) => setTimeout(resolve, 20)); // a rewrite would show in the mtime
    expect(await run(message)).toEqual({ batchItemFailures: [] });
    expect(reports.at(-1)).toMatchObject({ id: bogus.id, outcome: 'ignored', reason: `the registry has no manifest ${digest('f')}`, changes: [] });
    expect({ text: await readFile(file, 'utf8'), mtime: (await stat(file)).mtimeMs }).toEqual(before);
    expect(await deployedImage()).toEqual(deployment);
    // Held in memory, shown by the status, stored with the next write that happens anyway.
    expect(await recentOf(bogus.id)).toMatchObject({ outcome: 'ignored' });
    await run(record(push('v0.1.11', '2')));
    expect((await storedState()).recent).toEqual(expect.arrayContaining([expect.objectContaining({ id: bogus.id, outcome: 'ignored' })]));
  });
});

describe('nothing secret in what the worker shows', () => {
  it('the logs and reports of a config step name no password', async () => {
    await run(record(configCommand));
    await run(record(push('v0.1.9', '1')));
    expect(logs.length).toBeGreaterThan(0);
    for (const text of [...logs, ...reports.map((report) => JSON.stringify(report)), JSON.stringify(await deployer.status())]) {
      expect(text).not.toContain(MYSQL_PASSWORD);
      expect(text).not.toContain(PULL_PASSWORD);
    }
  });
});
