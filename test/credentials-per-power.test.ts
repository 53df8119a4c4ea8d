// One credential per power (DESIGN §5), through the real intake and status handlers: each
// credential opens its own routes and schemes and is refused everywhere else (a Docker Hub URL
// token cannot post a config, a push secret cannot read the status, …); an unset credential
// closes its routes; a short or reused secret stops the cold start, naming the variables only.
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import type { Context } from 'aws-lambda';
import { createIntakeHandler } from '../handlers/intake.js';
import { createStatusHandler } from '../handlers/status.js';
import type { HttpEvent, HttpResult } from '../src/http/types.js';
import { createLogger } from '../src/log.js';
import type { CommandQueue, QueueMessage } from '../src/queue/port.js';
import { loadSettings, type Settings } from '../src/settings/settings.js';
import { observe, watchSecrets } from './support/leak-guard.js';

const CREDENTIALS = {
  push: 'power-test-push-secret-0123456789abcdef',
  dockerhub: 'power-test-dockerhub-token-0123456789ab',
  quay: 'power-test-quay-token-0123456789abcdef01',
  config: 'power-test-config-secret-0123456789abcd',
  control: 'power-test-control-secret-0123456789abc',
  status: 'power-test-status-token-0123456789abcde',
} as const;
type Power = keyof typeof CREDENTIALS;
const POWERS = Object.keys(CREDENTIALS) as Power[];
const VARIABLE: Record<Power, string> = {
  push: 'KFM_WEBHOOK_SECRET', dockerhub: 'KFM_DOCKERHUB_TOKEN', quay: 'KFM_QUAY_TOKEN',
  config: 'KFM_CONFIG_SECRET', control: 'KFM_CONTROL_SECRET', status: 'KFM_STATUS_TOKEN',
};
watchSecrets(...Object.values(CREDENTIALS));

const env = (omit: Power[] = []) => Object.fromEntries(POWERS.filter((p) => !omit.includes(p)).map((p) => [VARIABLE[p], CREDENTIALS[p]]));
const context = { getRemainingTimeInMillis: () => 29_000, awsRequestId: 'power-test' } as unknown as Context;
const logger = createLogger((line) => observe('a log line', line));

type Scheme = 'bearer' | 'hub-signature' | 'signature' | 'url-token';
/** The table of DESIGN §5, written out: route → the scheme of its sample and the power it takes. */
const SAMPLES: Array<{ file: string; route: string; scheme: Scheme; power: Power }> = [
  { file: 'push-distribution.json', route: 'distribution', scheme: 'bearer', power: 'push' },
  { file: 'push-harbor.json', route: 'harbor', scheme: 'bearer', power: 'push' },
  { file: 'push-acr.json', route: 'acr', scheme: 'bearer', power: 'push' },
  { file: 'push-ghcr.json', route: 'ghcr', scheme: 'hub-signature', power: 'push' },
  { file: 'push-generic.json', route: 'generic', scheme: 'signature', power: 'push' },
  { file: 'push-dockerhub.json', route: 'dockerhub', scheme: 'url-token', power: 'dockerhub' },
  { file: 'push-quay.json', route: 'quay', scheme: 'url-token', power: 'quay' },
  { file: 'config.json', route: 'config', scheme: 'bearer', power: 'config' },
  { file: 'status.json', route: 'status', scheme: 'bearer', power: 'status' },
];
/** Every route takes a Bearer, of this power. */
const BEARER: Record<string, Power> = {
  distribution: 'push', harbor: 'push', acr: 'push', ghcr: 'push', generic: 'push', dockerhub: 'push', quay: 'push',
  config: 'config', control: 'control', status: 'status',
};

const sample = (file: string) => JSON.parse(readFileSync(new URL(`../events/${file}`, import.meta.url), 'utf8')) as HttpEvent;
const LOCAL = JSON.parse(readFileSync(new URL('../events/local-credentials.json', import.meta.url), 'utf8')) as Record<string, string>;
watchSecrets(...Object.values(LOCAL));
const controlEvent = (): HttpEvent => ({ ...sample('config.json'), routeKey: 'POST /control', rawPath: '/control', body: '{"suspend":true}' });

/** The sample with every credential it carries removed. */
function bare(event: HttpEvent): HttpEvent {
  const { authorization: _a, 'x-hub-signature-256': _h, 'x-signature': _s, ...headers } = event.headers ?? {};
  const { token: _t, ...query } = event.queryStringParameters ?? {};
  return { ...event, headers, queryStringParameters: query, rawQueryString: '' };
}

/** The event presenting `value` by `scheme` (a signature is the HMAC of the body with it). */
function presenting(event: HttpEvent, scheme: Scheme, value: string): HttpEvent {
  const out = bare(event);
  const sign = () => `sha256=${createHmac('sha256', value).update(event.body ?? '').digest('hex')}`;
  if (scheme === 'bearer') out.headers = { ...out.headers, authorization: `Bearer ${value}` };
  if (scheme === 'hub-signature') out.headers = { ...out.headers, 'x-hub-signature-256': sign() };
  if (scheme === 'signature') out.headers = { ...out.headers, 'x-signature': sign() };
  if (scheme === 'url-token') out.queryStringParameters = { ...out.queryStringParameters, token: value };
  return out;
}

function recordingQueue(): CommandQueue & { sent: QueueMessage[] } {
  const sent: QueueMessage[] = [];
  return { description: 'recording', sent, async send(message) { sent.push(message); } };
}

const STATUS = { status: { state: 'active', message: '' }, flags: [], resources: {}, recent: [] };

/** The function a sample's route belongs to, built from these settings; the answer and what was queued. */
async function invoke(settings: Settings, route: string, event: HttpEvent) {
  const queue = recordingQueue();
  const handler = route === 'status'
    ? createStatusHandler(settings, { source: async () => ({ status: async () => STATUS }) as never, logger })
    : createIntakeHandler(settings, { queue, logger });
  const result = (await handler(event, context)) as HttpResult;
  const body = String(result.body ?? '');
  observe(`the answer of ${route}`, body);
  return { status: result.statusCode ?? 0, body, sent: queue.sent.length };
}

describe('each credential, presented on every route', () => {
  const settings = loadSettings({ KFM_TARGET: 'dir:/nonexistent-power-test', ...env() });

  // Each sample with each power's credential in the sample's own scheme: only its own power gets in.
  const inOwnScheme = SAMPLES.flatMap((s) => POWERS.map((power) => [s.route, s.scheme, power, s] as const));
  it.each(inOwnScheme)('%s, %s carrying the %s credential', async (route, scheme, power, s) => {
    const answer = await invoke(settings, route, presenting(sample(s.file), scheme, CREDENTIALS[power]));
    if (power === s.power) {
      expect(answer.status).toBe(route === 'status' ? 200 : 202);
    } else {
      expect(answer.status).toBe(401);
      expect(answer.sent).toBe(0);
    }
    for (const value of Object.values(CREDENTIALS)) expect(answer.body).not.toContain(value);
  });

  // Every credential as a Bearer: a URL token is never a Bearer, and no power's Bearer opens another's route.
  const asBearer = [...SAMPLES.map((s) => [s.route, s.file] as const), ['control', 'control'] as const]
    .flatMap(([route, file]) => POWERS.map((power) => [route, power, file] as const));
  it.each(asBearer)('%s with the %s credential as Bearer', async (route, power, file) => {
    const event = file === 'control' ? controlEvent() : sample(file);
    const answer = await invoke(settings, route, presenting(event, 'bearer', CREDENTIALS[power]));
    if (BEARER[route] === power) expect(answer.status).toBe(route === 'status' ? 200 : 202);
    else expect(answer.status).toBe(401);
    if (answer.status === 401) expect(answer.sent).toBe(0);
  });

  it('a Docker Hub URL token cannot post a config, nor push on the Quay route, nor as a Bearer', async () => {
    const token = CREDENTIALS.dockerhub;
    const config = sample('config.json');
    for (const event of [presenting(config, 'bearer', token), presenting(config, 'url-token', token)]) {
      expect(await invoke(settings, 'config', event)).toMatchObject({ status: 401, sent: 0 });
    }
    expect(await invoke(settings, 'quay', presenting(sample('push-quay.json'), 'url-token', token))).toMatchObject({ status: 401, sent: 0 });
    expect(await invoke(settings, 'dockerhub', presenting(sample('push-dockerhub.json'), 'bearer', token))).toMatchObject({ status: 401, sent: 0 });
    expect(await invoke(settings, 'dockerhub', presenting(sample('push-dockerhub.json'), 'url-token', token))).toMatchObject({ status: 202 }); // ignored: another image than KFM_IMAGE
  });

  it('a ?token= is no credential on a route that does not take one, whatever it holds', async () => {
    for (const power of POWERS) {
      const event = presenting(sample('push-distribution.json'), 'url-token', CREDENTIALS[power]);
      const answer = await invoke(settings, 'distribution', event);
      expect(answer).toMatchObject({ status: 401, sent: 0 });
      expect(JSON.parse(answer.body).error).toMatch(/^missing credentials: send a Bearer token$/);
    }
  });

  it('a signature made with another power\'s credential is refused', async () => {
    for (const power of POWERS.filter((p) => p !== 'push')) {
      expect(await invoke(settings, 'ghcr', presenting(sample('push-ghcr.json'), 'hub-signature', CREDENTIALS[power]))).toMatchObject({ status: 401, sent: 0 });
      expect(await invoke(settings, 'generic', presenting(sample('push-generic.json'), 'signature', CREDENTIALS[power]))).toMatchObject({ status: 401, sent: 0 });
    }
  });
});

describe('an unset credential closes its routes', () => {
  it.each(POWERS)('without the %s credential, its routes answer 401; the others still open', async (unset) => {
    const settings = loadSettings({ KFM_TARGET: 'dir:/nonexistent-power-test', ...env([unset]) });
    for (const s of SAMPLES) {
      const answer = await invoke(settings, s.route, presenting(sample(s.file), s.scheme, CREDENTIALS[s.power]));
      expect(answer.status).toBe(s.power === unset ? 401 : s.route === 'status' ? 200 : 202);
    }
    const control = await invoke(settings, 'control', presenting(controlEvent(), 'bearer', CREDENTIALS.control));
    expect(control.status).toBe(unset === 'control' ? 401 : 202);
  });

  it('says which variable opens a closed route, and never accepts an empty presentation', async () => {
    const settings = loadSettings({ KFM_TARGET: 'dir:/nonexistent-power-test' });
    for (const s of SAMPLES) {
      for (const value of ['', 'x', CREDENTIALS[s.power]]) {
        const answer = await invoke(settings, s.route, presenting(sample(s.file), s.scheme, value));
        expect(answer.status).toBe(401);
        expect(JSON.parse(answer.body).error).toContain(VARIABLE[BEARER[s.route]!]);
      }
    }
  });

  it('the Docker Hub route without KFM_DOCKERHUB_TOKEN still takes the push Bearer, and names the missing token', async () => {
    const settings = loadSettings({ KFM_TARGET: 'dir:/nonexistent-power-test', ...env(['dockerhub']) });
    const byToken = await invoke(settings, 'dockerhub', presenting(sample('push-dockerhub.json'), 'url-token', CREDENTIALS.dockerhub));
    expect(byToken.status).toBe(401);
    expect(JSON.parse(byToken.body).error).toBe('?token= parameter is not configured (KFM_DOCKERHUB_TOKEN): send a Bearer token');
    expect((await invoke(settings, 'dockerhub', presenting(sample('push-dockerhub.json'), 'bearer', CREDENTIALS.push))).status).toBe(202);
  });
});

describe('the samples carry each route its own credential', () => {
  const settings = loadSettings({ KFM_TARGET: 'dir:/nonexistent-power-test', ...LOCAL });
  it.each(SAMPLES.map((s) => [s.file, s] as const))('%s is accepted with events/local-credentials.json', async (_file, s) => {
    expect((await invoke(settings, s.route, sample(s.file))).status).toBe(s.route === 'status' ? 200 : 202);
  });
});

describe('the cold start refuses weak credentials', () => {
  const refusal = (variables: Record<string, string>) => {
    try {
      loadSettings(variables);
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error('expected a settings error');
  };

  it.each(POWERS)('a %s credential shorter than 32 bytes, naming its variable only', (power) => {
    const short = `${power}-short-secret-0123456`.slice(0, 31);
    watchSecrets(short);
    const message = refusal({ ...env(), [VARIABLE[power]]: short });
    expect(message).toBe(`invalid settings: ${VARIABLE[power]}: must be at least 32 bytes (e.g. openssl rand -hex 32)`);
    expect(message).not.toContain(short);
  });

  it('counts bytes: 31 ASCII bytes are refused, 32 pass', () => {
    expect(refusal({ KFM_WEBHOOK_SECRET: 'a'.repeat(31) })).toMatch(/KFM_WEBHOOK_SECRET: must be at least 32 bytes/);
    expect(loadSettings({ KFM_WEBHOOK_SECRET: 'a'.repeat(32) }).credentials.push).toHaveLength(32);
  });

  it.each(POWERS.flatMap((a) => POWERS.filter((b) => b > a).map((b) => [a, b] as const)))('one value for %s and %s stops it, naming both', (a, b) => {
    const message = refusal({ ...env(), [VARIABLE[b]]: CREDENTIALS[a] });
    expect(message).toBe(`invalid settings: ${[VARIABLE[a], VARIABLE[b]].sort((x, y) => POWERS.indexOf(powerOf(x)) - POWERS.indexOf(powerOf(y))).join(', ')}: the same value for several powers (each needs its own credential)`);
    expect(message).not.toContain(CREDENTIALS[a]);
  });
});

const powerOf = (variable: string) => POWERS.find((p) => VARIABLE[p] === variable)!;
