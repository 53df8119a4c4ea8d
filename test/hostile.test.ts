// Hostile input: 500+ malformed or hostile requests (test/support/hostile-corpus.ts)
// sent over HTTP to the local server and the real handlers, on a deployed
// workload. Every one must get its exact 4xx (or 202 for an irrelevant push:
// ignored at intake, or accepted and then ignored by the worker; a replay is
// accepted under the applied push's id and dropped by the queue) with an error
// naming the problem (and the field, for bodies), never a 5xx, and write
// nothing; the server must still serve afterwards.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createLogger } from '../src/log.js';
import type { Credentials } from '../src/settings/settings.js';
import { hostileCorpus, type HostileRequest } from './support/hostile-corpus.js';
import { startLocalApp, testCredentials, type LocalApp } from './support/local-app.js';

/** One credential per power (DESIGN §5). */
const ENV = testCredentials('hostile');
const CREDENTIALS: Required<Credentials> = {
  push: ENV.KFM_WEBHOOK_SECRET, dockerhub: ENV.KFM_DOCKERHUB_TOKEN, quay: ENV.KFM_QUAY_TOKEN,
  config: ENV.KFM_CONFIG_SECRET, control: ENV.KFM_CONTROL_SECRET, status: ENV.KFM_STATUS_TOKEN,
};
const SECRET = CREDENTIALS.push;
const DIGEST = `sha256:${'7'.repeat(64)}`;
const IMAGE = `gcr.io/kubeflow-images-public/metadata@${DIGEST}`;
const DIST = 'application/vnd.docker.distribution.events.v1+json';
// Later than every sample event, so the samples are older than what runs.
const APPLIED = JSON.stringify({
  events: [{
    id: 'hostile-setup', timestamp: '2030-01-01T00:00:00Z', action: 'push',
    target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 500, digest: DIGEST, repository: 'kubeflow-images-public/metadata', tag: 'v0.1.8' },
  }],
});
const REPLAY = { body: APPLIED, headers: { authorization: `Bearer ${SECRET}`, 'content-type': DIST } };
const corpus = hostileCorpus(CREDENTIALS, REPLAY);
const groups = new Map<string, HostileRequest[]>();
for (const entry of corpus) {
  const group = entry.expect.status === 202 ? '202 irrelevant or replayed' : String(entry.expect.status);
  groups.set(group, [...(groups.get(group) ?? []), entry]);
}

/** A log line for an unexpected failure: at error level or above (any case), or saying so. */
function isFailure(line: string, record: { level?: unknown; message?: unknown }): boolean {
  const level = String(record.level ?? '').toUpperCase();
  return ['ERROR', 'CRITICAL', 'FATAL'].includes(level) || record.message === 'unexpected failure' || line.includes('"unexpected failure"');
}

let app: LocalApp;
let fingerprint: string;
/** The id intake answered for the setup push: every replay of it must get the same one. */
let appliedId: string;

/** Raw HTTP: exact headers (no added Content-Type), any method, bodies on GET, paths sent as written. */
function send(entry: Pick<HostileRequest, 'method' | 'path' | 'headers' | 'body'>): Promise<{ status: number; text: string }> {
  const url = new URL(app.url);
  return new Promise((resolve, reject) => {
    const headers = { ...entry.headers, ...(entry.body ? { 'content-length': String(entry.body.length) } : {}) };
    const req = request({ host: url.hostname, port: url.port, method: entry.method, path: entry.path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.setTimeout(20_000, () => req.destroy(new Error(`no answer to ${entry.method} ${entry.path.slice(0, 60)}`)));
    req.on('error', (error: NodeJS.ErrnoException) => {
      // The server may answer 413 and close before it has read an oversized body.
      if (error.code === 'EPIPE' || error.code === 'ECONNRESET') return;
      reject(error);
    });
    req.end(entry.body);
  });
}

beforeAll(async () => {
  app = await startLocalApp({ ...ENV, KFM_OFFLINE: 'true' });
  const config = await app.deliver('POST', '/webhooks/config', JSON.stringify({ relations: { mysql: { host: 'mysql', port: 3306, password: 'hostile-mysql-password' } } }), { ...app.auth('config'), 'content-type': 'application/json' });
  expect(config.status).toBe(202);
  expect(config.report?.outcome).toBe('applied');
  const push = await app.deliver('POST', '/webhooks/registry/distribution', APPLIED, REPLAY.headers);
  expect(push.status).toBe(202);
  expect(push.report).toMatchObject({ outcome: 'applied', status: { state: 'active', message: '' } });
  appliedId = push.json.accepted;
  fingerprint = await app.fingerprint();
  expect(fingerprint.split('\n')).toHaveLength(4); // mysql Secret, Service, Deployment, state
});
afterAll(async () => {
  await app?.stop();
});

describe('the corpus', () => {
  it('has at least 500 requests, covering every route', () => {
    expect(corpus.length).toBeGreaterThanOrEqual(500);
    const paths = new Set(corpus.map((entry) => entry.path.split('?')[0]));
    for (const path of ['/status', '/webhooks/config', '/control', ...['distribution', 'dockerhub', 'harbor', 'quay', 'acr', 'ghcr', 'generic'].map((p) => `/webhooks/registry/${p}`)]) {
      expect(paths.has(path)).toBe(true);
    }
    expect(new Set(corpus.map((entry) => entry.name)).size).toBe(corpus.length);
  });
});

describe.each([...groups.entries()].map(([group, entries]) => ({ group, entries })))('answers $group', ({ entries }) => {
  it.each(entries.map((entry) => [entry.name, entry] as const))('%s', async (name, entry) => {
    const steps = app.reports.size;
    const answer = await send(entry);
    await app.drain();
    let json: any;
    try { json = JSON.parse(answer.text); } catch { json = undefined; }
    // The body rides along so a wrong status shows what the server said.
    expect({ status: answer.status, body: answer.text.slice(0, 300) }).toEqual({ status: entry.expect.status, body: answer.text.slice(0, 300) });
    // A push intake can tell is not for KFM_IMAGE: answered {"ignored": reason}, never queued.
    if (entry.expect.ignored) {
      expect(json).toMatchObject({ ignored: expect.stringMatching(entry.expect.ignored) });
      expect(json).not.toHaveProperty('accepted');
    }
    if (entry.expect.status === 202 && name.startsWith('replay')) {
      // The same event, the same id: the queue's deduplication drops it, no step runs.
      expect(json).toEqual({ accepted: appliedId });
      expect(app.reports.size).toBe(steps);
    } else if (entry.expect.status === 202 && json?.accepted !== undefined) {
      // Needs the state to tell (an older version): the worker ignores it, with the reason.
      expect(app.reports.get(json.accepted)).toMatchObject({ outcome: 'ignored', reason: expect.stringMatching(/./), changes: [] });
    } else if (entry.expect.status === 202) {
      expect(typeof json?.ignored).toBe('string');
      expect(json.ignored.length).toBeGreaterThan(0);
      expect(app.reports.size).toBe(steps); // decided at intake: never queued
    } else {
      expect(app.reports.size).toBe(steps);
      expect(typeof json?.error).toBe('string');
      if (entry.expect.error) expect(json.error).toMatch(entry.expect.error);
      // `field` exactly when the body is at fault (every 400 but the malformed path).
      expect(json.field).toBe(entry.expect.field);
      if (entry.expect.field !== undefined) expect(json.error).toContain(entry.expect.field);
    }
    expect(await app.fingerprint()).toBe(fingerprint);
  });
});

describe('afterwards', () => {
  it('still serves: GET /status shows the workload as it was', async () => {
    const status = await app.request('GET', '/status', undefined, app.auth('status'));
    expect(status.status).toBe(200);
    expect(status.json.status).toEqual({ state: 'active', message: '' });
    expect(status.json.resources['oci-image']).toMatchObject({ registryPath: IMAGE, digest: DIGEST });
    expect((await app.object('Deployment', 'kubeflow-metadata')).spec.template.spec.containers[0].image).toBe(IMAGE);
    expect(await app.fingerprint()).toBe(fingerprint);
  });

  it('every step after the setup was an ignored one, and there were some (the older sample events)', () => {
    const outcomes = [...app.reports.values()].map((report) => report.outcome);
    expect(outcomes.slice(0, 2)).toEqual(['applied', 'applied']);
    expect(outcomes.length).toBeGreaterThan(2);
    expect(new Set(outcomes.slice(2))).toEqual(new Set(['ignored']));
  });

  it('no hostile request was logged as an unexpected failure', () => {
    const lines = app.logs.join('').split('\n').filter((line) => line.trim() !== '');
    expect(lines.length).toBeGreaterThan(0);
    // Every line is a JSON record (a line the check cannot read could hide a failure).
    const records = lines.map((line) => JSON.parse(line) as { level?: unknown; message?: unknown });
    expect(records.every((record) => typeof record.level === 'string')).toBe(true);
    const unexpected = lines.filter((line, i) => isFailure(line, records[i]!));
    expect(unexpected).toEqual([]);
  });

  it('the failure check catches what the logger writes for an error (Powertools levels are upper case)', () => {
    const written: string[] = [];
    const logger = createLogger((line) => written.push(line));
    logger.info('event accepted', { id: 'x' });
    logger.warn('secrets not refreshed: the loaded ones stay in use');
    logger.error('step failed', { id: 'x' });
    logger.info('unexpected failure');
    const caught = written.map((line) => isFailure(line, JSON.parse(line)));
    expect(caught).toEqual([false, false, true, true]);
  });
});
