// Intake (handlers/intake.ts) with a recording fake queue: one command per
// accepted event, in the workload's message group, deduplicated by the event's
// identity; what needs no state is answered 202 ignored and never queued; a
// queue that fails is a 503 that names no secret.
import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import type { Context } from 'aws-lambda';
import { createIntakeHandler } from '../handlers/intake.js';
import { parseCommand } from '../src/domain/commands.js';
import { QueueError } from '../src/errors.js';
import type { HttpEvent } from '../src/http/types.js';
import { createLogger } from '../src/log.js';
import type { CommandQueue, QueueMessage } from '../src/queue/port.js';
import { loadSettings } from '../src/settings/settings.js';
import { observe, watchSecrets } from './support/leak-guard.js';

const SECRET = 'intake-test-webhook-secret-0123456789ab';
/** POST /webhooks/config has its own credential (DESIGN §5): the push secret cannot reconfigure. */
const CONFIG_SECRET = 'intake-test-config-secret-0123456789abc';
const MYSQL_PASSWORD = 'intake-test-mysql-Pa55word';
const OTHER_PASSWORD = 'intake-test-rotated-Pa55word';
watchSecrets(SECRET, CONFIG_SECRET, MYSQL_PASSWORD, OTHER_PASSWORD);
const NOW = new Date('2026-03-01T10:00:00Z');
const DIST = 'application/vnd.docker.distribution.events.v1+json';
const digest = (c: string) => `sha256:${c.repeat(64)}`;

const settings = loadSettings({
  KFM_TARGET: 'dir:/nonexistent-intake-test', KFM_WEBHOOK_SECRET: SECRET, KFM_CONFIG_SECRET: CONFIG_SECRET, KFM_NAMESPACE: 'team-a', KFM_APP: 'metadata-two',
  KFM_IMAGE: 'registry.example:5000/kubeflow/metadata:v1.0.0', KFM_TAG_POLICY: 'semver:^1',
});
const context = { getRemainingTimeInMillis: () => 29_000, awsRequestId: 'intake-test' } as unknown as Context;
const logs: string[] = [];
const logger = createLogger((line) => { logs.push(line); observe('an intake log line', line); });

function recordingQueue(fail?: Error): CommandQueue & { sent: QueueMessage[] } {
  const sent: QueueMessage[] = [];
  return { description: 'recording', sent, async send(message) { if (fail) throw fail; sent.push(message); } };
}

function httpEvent(path: string, body: string, headers: Record<string, string>): HttpEvent {
  const provider = /^\/webhooks\/registry\/(.+)$/.exec(path)?.[1];
  const routeKey = provider ? 'POST /webhooks/registry/{provider}' : 'POST /webhooks/config';
  return {
    version: '2.0', routeKey, rawPath: path, rawQueryString: '', headers, queryStringParameters: {},
    pathParameters: provider ? { provider } : {},
    requestContext: { http: { method: 'POST', path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent: 'test' }, requestId: 'r', routeKey, stage: '$default', timeEpoch: NOW.getTime() },
    isBase64Encoded: false, body,
  } as unknown as HttpEvent;
}

async function post(queue: CommandQueue, path: string, body: string, headers: Record<string, string> = {}) {
  const intake = createIntakeHandler(settings, { queue, logger, now: () => NOW });
  const bearer = path === '/webhooks/config' ? CONFIG_SECRET : SECRET;
  const result = await intake(httpEvent(path, body, { authorization: `Bearer ${bearer}`, ...headers }), context);
  const text = String(result.body ?? '');
  observe('an intake answer', text);
  return { status: result.statusCode, text, json: JSON.parse(text) };
}

const distribution = (tag: string | undefined, d: string, extra: Record<string, unknown> = {}) => JSON.stringify({
  events: [{
    id: `event-${d.slice(7, 12)}`, timestamp: '2026-03-01T09:59:00Z', action: 'push',
    target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 500, digest: d, repository: 'kubeflow/metadata', ...(tag ? { tag } : {}) },
    request: { id: 'r', host: 'registry.example:5000', method: 'PUT', useragent: 'test' }, ...extra,
  }],
});
const pushTo = (queue: CommandQueue, body: string) => post(queue, '/webhooks/registry/distribution', body, { 'content-type': DIST });
const configBody = (password: string) => JSON.stringify({ config: { port: 8080 }, relations: { mysql: { host: 'mysql', port: 3306, password } } });
const configTo = (queue: CommandQueue, body: string) => post(queue, '/webhooks/config', body, { 'content-type': 'application/json' });

describe('an accepted push', () => {
  it('is one command on the queue, in the workload group, deduplicated by its id: 202 {"accepted": id}', async () => {
    const queue = recordingQueue();
    const answer = await pushTo(queue, distribution('v1.2.0', digest('1')));
    expect(answer.status).toBe(202);
    expect(Object.keys(answer.json)).toEqual(['accepted']);
    expect(answer.json.accepted).toMatch(/^push-[0-9a-f]{40}$/);
    expect(queue.sent).toHaveLength(1);
    const [message] = queue.sent;
    expect(message!.groupId).toBe('team-a/metadata-two');
    expect(message!.deduplicationId).toBe(answer.json.accepted);
    expect(parseCommand(message!.body)).toEqual({
      kind: 'push', id: answer.json.accepted, receivedAt: NOW.toISOString(),
      pushes: [expect.objectContaining({ provider: 'distribution', repository: 'kubeflow/metadata', tag: 'v1.2.0', digest: digest('1') })],
    });
  });

  it('the same push delivered twice gets the same id (a redelivery, even with another event id and time)', async () => {
    const queue = recordingQueue();
    const first = await pushTo(queue, distribution('v1.2.0', digest('1')));
    const again = await pushTo(queue, distribution('v1.2.0', digest('1'), { id: 'redelivered', timestamp: '2026-03-01T10:00:30Z' }));
    expect(again.json.accepted).toBe(first.json.accepted);
    expect(queue.sent.map((message) => message.deduplicationId)).toEqual([first.json.accepted, first.json.accepted]);
  });

  it('different pushes get different ids: another digest, another tag, another provider', async () => {
    const queue = recordingQueue();
    const ids = [
      (await pushTo(queue, distribution('v1.2.0', digest('1')))).json.accepted,
      (await pushTo(queue, distribution('v1.2.0', digest('2')))).json.accepted,
      (await pushTo(queue, distribution('v1.3.0', digest('1')))).json.accepted,
      (await post(queue, '/webhooks/registry/generic', JSON.stringify({ repository: 'kubeflow/metadata', tag: 'v1.2.0', digest: digest('1') }), { 'content-type': 'application/json' })).json.accepted,
    ];
    expect(new Set(ids).size).toBe(4);
    expect(queue.sent.map((message) => message.deduplicationId)).toEqual(ids);
  });
});

describe('a config body', () => {
  it('is a config-… id that neither contains nor plainly hashes the password or the body', async () => {
    const queue = recordingQueue();
    const body = configBody(MYSQL_PASSWORD);
    const answer = await configTo(queue, body);
    expect(answer.status).toBe(202);
    const id = answer.json.accepted as string;
    expect(id).toMatch(/^config-[0-9a-f]+$/);
    expect(id).not.toContain(MYSQL_PASSWORD);
    const hex = id.slice('config-'.length);
    const plainHashes = [body, JSON.stringify(JSON.parse(body)), MYSQL_PASSWORD].flatMap((text) => [
      createHash('sha256').update(text).digest('hex'), createHash('sha1').update(text).digest('hex'), createHash('md5').update(text).digest('hex'),
    ]);
    for (const hash of plainHashes) {
      expect(hash).not.toContain(hex);
      expect(hex).not.toContain(hash.slice(0, 16));
    }
    expect(queue.sent[0]).toMatchObject({ groupId: 'team-a/metadata-two', deduplicationId: id });
    expect(parseCommand(queue.sent[0]!.body)).toMatchObject({ kind: 'config', id, config: { port: 8080 }, mysql: { host: 'mysql', port: 3306 } });
  });

  it('the same body twice is the same id; another password (a rotation) is another id, or it would be dropped as a duplicate', async () => {
    const queue = recordingQueue();
    const first = (await configTo(queue, configBody(MYSQL_PASSWORD))).json.accepted;
    const again = (await configTo(queue, configBody(MYSQL_PASSWORD))).json.accepted;
    const rotated = (await configTo(queue, configBody(OTHER_PASSWORD))).json.accepted;
    expect(again).toBe(first);
    expect(rotated).not.toBe(first);
  });

  it('the id is keyed: it is not the HMAC of the body under a key anyone could guess', async () => {
    const queue = recordingQueue();
    const body = configBody(MYSQL_PASSWORD);
    const hex = ((await configTo(queue, body)).json.accepted as string).slice('config-'.length);
    for (const key of ['', 'config', 'kubeflow-metadata', 'team-a/metadata-two', SECRET]) {
      expect(createHmac('sha256', key).update(JSON.stringify(JSON.parse(body))).digest('hex')).not.toContain(hex);
    }
  });
});

describe('what intake decides without state: 202 ignored, never queued', () => {
  const cases: Array<[string, string]> = [
    ['a pull', distribution('v1.2.0', digest('3'), { action: 'pull' })],
    ['a blob push', JSON.stringify({ events: [{ ...JSON.parse(distribution('v1.2.0', digest('3'))).events[0], target: { mediaType: 'application/octet-stream', size: 9, digest: digest('3'), repository: 'kubeflow/metadata' } }] })],
    ['another repository', distribution('v1.2.0', digest('3')).replace('"kubeflow/metadata"', '"someone/else"')],
    ['a tag outside the policy', distribution('v2.0.0', digest('3'))],
    ['a push by digest only', distribution(undefined, digest('3'))],
    ['no events at all', JSON.stringify({ events: [] })],
  ];
  it.each(cases)('%s', async (_name, body) => {
    const queue = recordingQueue();
    const answer = await pushTo(queue, body);
    expect(answer.status).toBe(202);
    expect(answer.json.accepted).toBeUndefined();
    expect(Array.isArray(answer.json.reasons)).toBe(true);
    expect(answer.json.reasons.length).toBeGreaterThan(0);
    expect(answer.json.ignored).toBe(answer.json.reasons.join('; '));
    expect(queue.sent).toEqual([]);
  });

  it('a payload with nothing to act on says so', async () => {
    const answer = await pushTo(recordingQueue(), JSON.stringify({ events: [] }));
    expect(answer.json).toEqual({ ignored: 'no push in the payload', reasons: ['no push in the payload'] });
  });

  it('refusals come before the queue: 401, 400 and 415 queue nothing', async () => {
    const queue = recordingQueue();
    const intake = createIntakeHandler(settings, { queue, logger, now: () => NOW });
    const unauthenticated = await intake(httpEvent('/webhooks/config', configBody(MYSQL_PASSWORD), { 'content-type': 'application/json' }), context);
    const malformed = await intake(httpEvent('/webhooks/config', '{"config":{"port":70000}}', { authorization: `Bearer ${CONFIG_SECRET}`, 'content-type': 'application/json' }), context);
    const wrongType = await intake(httpEvent('/webhooks/config', '{}', { authorization: `Bearer ${CONFIG_SECRET}`, 'content-type': 'text/plain' }), context);
    expect([unauthenticated.statusCode, malformed.statusCode, wrongType.statusCode]).toEqual([401, 400, 415]);
    expect(queue.sent).toEqual([]);
  });

  it('each credential only on its own route: the push secret cannot post a config, nor the config secret a push', async () => {
    const queue = recordingQueue();
    const intake = createIntakeHandler(settings, { queue, logger, now: () => NOW });
    const json = { 'content-type': 'application/json' };
    const configByPush = await intake(httpEvent('/webhooks/config', configBody(MYSQL_PASSWORD), { authorization: `Bearer ${SECRET}`, ...json }), context);
    const pushByConfig = await intake(httpEvent('/webhooks/registry/distribution', distribution('v1.2.0', digest('6')), { authorization: `Bearer ${CONFIG_SECRET}`, 'content-type': DIST }), context);
    expect([configByPush.statusCode, pushByConfig.statusCode]).toEqual([401, 401]);
    for (const answer of [configByPush, pushByConfig]) for (const secret of [SECRET, CONFIG_SECRET, MYSQL_PASSWORD]) expect(String(answer.body)).not.toContain(secret);
    expect(queue.sent).toEqual([]);
    // And each with its own credential is accepted.
    expect((await configTo(queue, configBody(MYSQL_PASSWORD))).status).toBe(202);
    expect((await pushTo(queue, distribution('v1.2.0', digest('6')))).status).toBe(202);
    expect(queue.sent).toHaveLength(2);
  });
});

describe('a queue that does not take the message', () => {
  it.each([
    ['a push', (queue: CommandQueue) => pushTo(queue, distribution('v1.2.0', digest('4')))],
    ['a config carrying the password', (queue: CommandQueue) => configTo(queue, configBody(MYSQL_PASSWORD))],
  ])('%s: 503, so the sender retries, and the answer names no secret', async (_name, send) => {
    const answer = await send(recordingQueue(new QueueError('sqs:https://sqs.example/123456789012/q.fifo: SendMessage failed: ServiceUnavailable')));
    expect(answer.status).toBe(503);
    expect(answer.json).toEqual({ error: 'the event could not be queued: try again' });
    for (const secret of [SECRET, CONFIG_SECRET, MYSQL_PASSWORD]) expect(answer.text).not.toContain(secret);
    expect(logs.some((line) => line.includes('queue send failed'))).toBe(true);
  });

  it('the 503 body repeats nothing the queue error said (it may echo what it was sent)', async () => {
    const echoing = new QueueError(`SendMessage failed: invalid body ${configBody(MYSQL_PASSWORD).slice(0, 20)}`);
    const answer = await configTo(recordingQueue(echoing), configBody(MYSQL_PASSWORD));
    expect(answer.status).toBe(503);
    expect(answer.text).not.toContain('invalid body');
  });

  it('anything else the queue throws is a 500 without detail, not an acceptance', async () => {
    const answer = await pushTo(recordingQueue(new Error("boom")), distribution('v1.2.0', digest('5')));
    expect(answer.status).toBe(500);
    expect(answer.text).not.toContain(SECRET);
  });
});
