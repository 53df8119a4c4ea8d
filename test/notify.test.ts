// Notifications (src/notify/*) against a local receiver on 127.0.0.1: one signed
// request per call whose X-Signature verifies over the raw body; the Slack body is
// `{"text": …}`; a slow receiver times out, a 500, a redirect and a closed port are
// reported as results, never thrown; neither the HMAC key nor the Slack URL (itself
// the credential) shows in a result, an error or a log line (the leak guard watches
// both, and the log lines are handed to it).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createLogger } from '../src/log.js';
import { fanOut, notificationText, type Notification } from '../src/notify/port.js';
import { createSlackNotifier } from '../src/notify/slack.js';
import { createWebhookNotifier, signature } from '../src/notify/webhook.js';
import { freePort } from './support/control-plane.js';
import { leaksIn, observe, watchSecrets } from './support/leak-guard.js';

const HMAC_KEY = 'notify-test-hmac-key-3f9a';
const SLACK_TOKEN = 'XoXbNotifyTestSlackPath9c1e';
watchSecrets(HMAC_KEY, SLACK_TOKEN);

interface Received { path: string; headers: IncomingHttpHeaders; body: string }
const received: Received[] = [];
let server: Server;
let base = '';
/** `/ok` 200, `/fail` 500, `/moved` 302, `/slow` answers after 3 s; anything else 404. */
beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const path = (req.url ?? '').split('/')[1];
      if (path === 'slow') return void setTimeout(() => res.writeHead(200).end('ok'), 3000).unref();
      const status = path === 'ok' || path === 'services' ? 200 : path === 'fail' ? 500 : path === 'moved' ? 302 : 404;
      res.writeHead(status, path === 'moved' ? { location: 'http://127.0.0.1:1/elsewhere' } : {}).end(status === 200 ? 'ok' : `echo ${HMAC_KEY}`);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

const lines: string[] = [];
const logger = createLogger((line) => {
  lines.push(line);
  observe('notify log', line);
});
const slackUrl = () => `${base}/services/T000/B000/${SLACK_TOKEN}`;
const notification: Notification = {
  id: 'evt-0001:RolloutFailed', event: 'RolloutFailed', namespace: 'kubeflow', app: 'kubeflow-metadata',
  summary: 'rollout failed: pod kubeflow-metadata-5d9c7b8f4-x2x2x CrashLoopBackOff',
  status: { state: 'blocked', message: 'rollout failed: pod kubeflow-metadata-5d9c7b8f4-x2x2x CrashLoopBackOff' },
  trigger: { provider: 'distribution', eventId: 'evt-0001', tag: '1.2.1', digest: `sha256:${'b'.repeat(64)}` }, at: '2026-01-01T00:00:00.000Z',
};
const fresh = () => { received.length = 0; lines.length = 0; };
const verifies = (headers: IncomingHttpHeaders, body: string) => {
  const expected = Buffer.from(`sha256=${createHmac('sha256', HMAC_KEY).update(body).digest('hex')}`);
  const given = Buffer.from(String(headers['x-signature']));
  return given.length === expected.length && timingSafeEqual(given, expected);
};

describe('generic webhook', () => {
  it('one signed request per call; the signature verifies over the raw body; the body is the notification plus its text', async () => {
    fresh();
    const webhook = createWebhookNotifier({ url: `${base}/ok`, secret: HMAC_KEY, logger });
    const result = await webhook.notify(notification);
    expect(result).toMatchObject({ ok: true, channel: 'webhook', status: 200 });
    expect(received).toHaveLength(1);
    const [{ headers, body }] = received as [Received];
    expect(verifies(headers, body)).toBe(true);
    expect(headers['x-signature']).toBe(signature(HMAC_KEY, body));
    expect([headers['content-type'], headers['x-kfm-delivery']]).toEqual(['application/json', notification.id]);
    expect(JSON.parse(body)).toEqual({ ...notification, text: notificationText(notification) });
    expect(verifies(headers, body.replace('CrashLoopBackOff', 'ImagePullBackOff'))).toBe(false);
    await webhook.notify({ ...notification, id: 'evt-0002:RolloutComplete', event: 'RolloutComplete' });
    expect(received).toHaveLength(2);
    expect(verifies(received[1]!.headers, received[1]!.body)).toBe(true);
  });

  it('a 500 is reported (with a warning), never thrown; the receiver\'s body is not repeated', async () => {
    fresh();
    const result = await createWebhookNotifier({ url: `${base}/fail`, secret: HMAC_KEY, logger }).notify(notification);
    expect(result).toMatchObject({ ok: false, channel: 'webhook', status: 500, error: 'HTTP 500', timedOut: false });
    expect(received).toHaveLength(1);
    expect(lines.map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ message: 'notification failed', channel: 'webhook', error: 'HTTP 500' })]);
  });

  it('a slow receiver times out without failing, in about the timeout', async () => {
    fresh();
    const started = Date.now();
    const result = await createWebhookNotifier({ url: `${base}/slow`, secret: HMAC_KEY, timeoutMs: 300, logger }).notify(notification);
    expect(result).toMatchObject({ ok: false, timedOut: true, error: 'no answer within 300 ms' });
    expect(Date.now() - started).toBeLessThan(2000);
    // A deadline shortens the timeout: 1.2 s left keeps 1 s back.
    const end = Date.now() + 1200;
    const bounded = await createWebhookNotifier({ url: `${base}/slow`, secret: HMAC_KEY, timeoutMs: 10_000, deadline: () => end - Date.now() }).notify(notification);
    expect(bounded).toMatchObject({ ok: false, timedOut: true });
    expect(Date.now()).toBeLessThan(end);
  });

  it('a redirect is not followed; a closed port is a result too', async () => {
    fresh();
    expect(await createWebhookNotifier({ url: `${base}/moved`, secret: HMAC_KEY }).notify(notification))
      .toMatchObject({ ok: false, status: 302, error: 'HTTP 302 (redirects are not followed)' });
    expect(received).toHaveLength(1);
    const closed = await createWebhookNotifier({ url: `http://127.0.0.1:${await freePort()}/hook`, secret: HMAC_KEY }).notify(notification);
    expect(closed).toMatchObject({ ok: false, timedOut: false, error: 'request failed (ECONNREFUSED)' });
  });

  it('never throws, whatever fetch does', async () => {
    const broken = createWebhookNotifier({ url: `${base}/ok`, secret: HMAC_KEY, fetch: (() => { throw new TypeError(`bad ${HMAC_KEY}`); }) as typeof fetch });
    expect(await broken.notify(notification)).toMatchObject({ ok: false, error: 'request failed' });
    expect(() => createWebhookNotifier({ url: `${base}/ok`, secret: '' })).toThrow('webhook notifier: the signing secret is empty');
  });
});

describe('Slack-compatible incoming webhook', () => {
  it('POSTs {"text": …} once to the URL', async () => {
    fresh();
    const result = await createSlackNotifier({ url: slackUrl(), logger }).notify(notification);
    expect(result).toMatchObject({ ok: true, channel: 'slack', status: 200 });
    expect(received).toEqual([expect.objectContaining({ path: `/services/T000/B000/${SLACK_TOKEN}`, body: JSON.stringify({ text: notificationText(notification) }) })]);
    expect(notificationText(notification)).toBe(`[kubeflow/kubeflow-metadata] RolloutFailed: ${notification.summary} — (provider distribution, event evt-0001, tag 1.2.1, digest sha256:${'b'.repeat(64)})`);
  });

  it('the URL (the credential) is in no result, error or log line, whatever goes wrong', async () => {
    fresh();
    const port = await freePort();
    const results = await Promise.all([
      createSlackNotifier({ url: `http://127.0.0.1:${port}/services/T/B/${SLACK_TOKEN}`, logger }).notify(notification),
      createSlackNotifier({ url: `${base}/slow/${SLACK_TOKEN}`, timeoutMs: 200, logger }).notify(notification),
      createSlackNotifier({ url: `${base}/fail/${SLACK_TOKEN}`, logger }).notify(notification),
    ]);
    expect(results.map((r) => r.ok)).toEqual([false, false, false]);
    const errors: string[] = [];
    for (const url of [`not a url ${SLACK_TOKEN}`, `ftp://host/${SLACK_TOKEN}`]) {
      try { createSlackNotifier({ url }); } catch (error) { errors.push((error as Error).message); }
    }
    expect(errors).toEqual(['slack notifier: the URL is not a valid URL', 'slack notifier: the URL must be http(s)']);
    expect(leaksIn(JSON.stringify({ results, errors, lines }))).toEqual([]);
    expect(lines).toHaveLength(3);
  });
});

describe('fanOut', () => {
  it('each channel once, at once; one failing leaves the other delivered', async () => {
    fresh();
    const started = Date.now();
    const results = await fanOut([
      createSlackNotifier({ url: slackUrl() }),
      createWebhookNotifier({ url: `${base}/slow`, secret: HMAC_KEY, timeoutMs: 400 }),
      createWebhookNotifier({ url: `${base}/ok`, secret: HMAC_KEY }),
    ]).notify(notification);
    expect(results.map((r) => [r.channel, r.ok])).toEqual([['slack', true], ['webhook', false], ['webhook', true]]);
    expect(received.map((r) => r.path).sort()).toEqual(['/ok', `/services/T000/B000/${SLACK_TOKEN}`, '/slow']);
    expect(Date.now() - started).toBeLessThan(2500);
  });
});
