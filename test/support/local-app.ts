// Starts the real handlers behind the local HTTP server on a free loopback
// port, with the given settings, and captures everything they log.
import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startLocalServer } from '../../src/local/server.js';
import type { StepReport } from '../../src/app/deployer.js';
import { CREDENTIAL_VARIABLES, type Credentials } from '../../src/settings/settings.js';
import { observe, watchSecrets, watchStore } from './leak-guard.js';

export type Power = keyof Credentials;
export const POWERS = Object.keys(CREDENTIAL_VARIABLES) as Power[];

/**
 * One credential per power (DESIGN §5) as the environment variables that hold them: each at least
 * 32 bytes and distinct from the others, so a test never starts with one the cold start refuses.
 */
export function testCredentials(label: string): Record<(typeof CREDENTIAL_VARIABLES)[Power], string> {
  return Object.fromEntries(POWERS.map((power) => [CREDENTIAL_VARIABLES[power], `${label}-${power}-credential-0123456789abcdef`])) as Record<(typeof CREDENTIAL_VARIABLES)[Power], string>;
}

export interface LocalApp {
  url: string;
  dir: string;
  logs: string[];
  /** Each power's credential, as the app was started with (undefined: unset, its routes closed). */
  credentials: Credentials;
  /** The `Authorization: Bearer` header carrying a power's credential; throws when the app has none for it. */
  auth(power: 'push' | 'config' | 'control' | 'status'): Record<string, string>;
  /** `?token=<the Docker Hub or Quay URL token>`, for that registry's route only. */
  urlToken(power: 'dockerhub' | 'quay'): string;
  request(method: string, path: string, body?: string | Buffer, headers?: Record<string, string>): Promise<{ status: number; json: any; text: string }>;
  /**
   * A request, then the in-process queue drained: the answer, plus the worker's report of the
   * event it accepted (undefined when it was ignored or refused at intake).
   */
  deliver(method: string, path: string, body?: string | Buffer, headers?: Record<string, string>): Promise<{ status: number; json: any; text: string; report?: StepReport }>;
  /** Waits until the queue is empty (every accepted event applied, failed for good or dead-lettered). */
  drain(): Promise<void>;
  /** Every step's report, by the id intake answered. */
  reports: Map<string, StepReport>;
  object(kind: string, name: string): Promise<any | undefined>;
  /** Every stored file's name and mtime, to prove a request wrote nothing. */
  fingerprint(): Promise<string>;
  stop(): Promise<void>;
}

/** Env is read when the handlers are first imported: one app per test file. */
export async function startLocalApp(env: Record<string, string>, options: { port?: number } = {}): Promise<LocalApp> {
  const dir = await mkdtemp(join(tmpdir(), 'kfm-app-'));
  Object.assign(process.env, { KFM_TARGET: `dir:${dir}`, ...env });
  const credentials = Object.fromEntries(POWERS.map((power) => [power, env[CREDENTIAL_VARIABLES[power]] || undefined])) as Credentials;
  // Every power's credential: none may show in a log line, an answer or a stored object.
  watchSecrets(...Object.values(credentials), ...registryPasswords(env.KFM_REGISTRY_AUTH));
  const credentialOf = (power: Power): string => {
    const value = credentials[power];
    if (value === undefined) throw new Error(`the local app was started without ${CREDENTIAL_VARIABLES[power]}`);
    return value;
  };
  const logs: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  process.stdout.write = ((chunk: string | Uint8Array) => {
    logs.push(String(chunk));
    observe('a log line', String(chunk));
    return true;
  }) as typeof process.stdout.write;
  // One at a time: jest's ESM loader fails parallel first imports of a shared module.
  const intake = await import('../../handlers/intake.js');
  const status = await import('../../handlers/status.js');
  const { processDefaults } = await import('../../src/app/process-defaults.js');
  const { localRuntime } = await import('../../src/app/local-runtime.js');
  const defaults = processDefaults();
  const runtime = localRuntime(defaults.settings, defaults.logger);
  const reports = new Map<string, StepReport>();
  const unsubscribe = runtime.onReport((report) => {
    reports.set(report.id, report);
    observe('a step report', JSON.stringify(report));
  });
  const server = await startLocalServer({ intake: intake.handler, status: status.handler }, { port: options.port ?? 0 });
  const folder = join(dir, process.env.KFM_NAMESPACE ?? 'kubeflow');
  const unwatch = watchStore(`the stored objects in ${folder}`, async () => {
    const files = (await readdir(folder).catch(() => [] as string[])).filter((file) => !file.startsWith('secret-'));
    return (await Promise.all(files.map((file) => readFile(join(folder, file), 'utf8').catch(() => '')))).join('\n');
  });
  const app: LocalApp = {
    url: server.url,
    dir,
    logs,
    credentials,
    auth: (power) => ({ authorization: `Bearer ${credentialOf(power)}` }),
    urlToken: (power) => `?token=${encodeURIComponent(credentialOf(power))}`,
    reports,
    drain: () => runtime.queue.drain(),
    async deliver(method, path, body, headers = {}) {
      const ran = new Map<string, StepReport>();
      const stop = runtime.onReport((report) => ran.set(report.id, report));
      try {
        const answer = await app.request(method, path, body, headers);
        await runtime.queue.drain();
        const id = (answer.json as { accepted?: unknown } | undefined)?.accepted;
        // Only a step that ran for this delivery: a redelivery the queue dropped has no report.
        return { ...answer, report: typeof id === 'string' ? ran.get(id) : undefined };
      } finally {
        stop();
      }
    },
    async request(method, path, body, headers = {}) {
      if (typeof body === 'string') watchSecrets(mysqlPassword(body));
      const response = await fetch(`${server.url}${path}`, { method, body: typeof body === "string" || body === undefined ? body : new Uint8Array(body), headers });
      const text = await response.text();
      observe(`the answer to ${method} ${path.slice(0, 80)}`, text);
      let json: unknown;
      try { json = JSON.parse(text); } catch { json = undefined; }
      return { status: response.status, json, text };
    },
    async object(kind, name) {
      try {
        return parse(await readFile(join(folder, `${kind.toLowerCase()}-${name}.yaml`), 'utf8'));
      } catch {
        return undefined;
      }
    },
    async fingerprint() {
      const files = await readdir(folder).catch(() => [] as string[]);
      const stamps = await Promise.all(files.sort().map(async (file) => `${file}@${(await stat(join(folder, file))).mtimeMs}`));
      return stamps.join('\n');
    },
    async stop() {
      await runtime.queue.drain();
      unsubscribe();
      unwatch();
      await server.stop();
      process.stdout.write = write;
      await rm(dir, { recursive: true, force: true });
    },
  };
  return app;
}

function registryPasswords(auth: string | undefined): string[] {
  try {
    return Object.values(JSON.parse(auth ?? '{}') as Record<string, { password?: unknown }>).flatMap((entry) => (typeof entry?.password === 'string' ? [entry.password] : []));
  } catch {
    return []; // a deliberately invalid setting
  }
}

/** The MySQL password a config body carries, if any. */
function mysqlPassword(body: string): string | undefined {
  try {
    const password = (JSON.parse(body) as { relations?: { mysql?: { password?: unknown } } })?.relations?.mysql?.password;
    return typeof password === 'string' ? password : undefined;
  } catch {
    return undefined;
  }
}
