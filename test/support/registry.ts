// A REAL CNCF distribution registry (Debian package `docker-registry`) for the
// integration suites: a temp dir, a free 127.0.0.1 port, htpasswd auth and,
// optionally, a notification endpoint. It never skips: a missing binary is a
// loud failure, because a skipped registry test proves nothing.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, constants, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { stringify } from 'yaml';
import type { RegistryCredentials } from '../../src/domain/types.js';
import { watchSecrets } from './leak-guard.js';

export interface NotificationEndpoint {
  url: string;
  headers?: Record<string, string>;
  timeout?: string;
  threshold?: number;
  backoff?: string;
  /** Distribution's `ignore` block, e.g. `{ actions: ['pull'] }`. */
  ignore?: { mediatypes?: string[]; actions?: string[] };
}

export interface RegistryOptions {
  /** htpasswd user; `false` for an open registry. */
  auth: RegistryCredentials | false;
  notifications?: NotificationEndpoint;
  binary: string;
  htpasswd: string;
  readyTimeoutMs: number;
}

export interface TestRegistry {
  /** `http://127.0.0.1:<port>` */
  url: string;
  /** `127.0.0.1:<port>`: the registry host as KFM_IMAGE names it. */
  host: string;
  port: number;
  auth?: RegistryCredentials;
  dir: string;
  /** The registry's own log so far (for failure messages). */
  logs(): string;
  stop(): Promise<void>;
}

const defaults: RegistryOptions = {
  auth: { username: 'kfm', password: 'kfm-test-password' },
  binary: '/usr/bin/docker-registry',
  htpasswd: 'htpasswd',
  readyTimeoutMs: 10_000,
};
const run = promisify(execFile);

/** A port the kernel just handed out on 127.0.0.1 (free unless someone races for it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

async function bcryptLine(options: RegistryOptions, auth: RegistryCredentials): Promise<string> {
  try {
    const { stdout } = await run(options.htpasswd, ['-Bbn', auth.username, auth.password]);
    return stdout.trim() + '\n';
  } catch (error) {
    throw new Error(`cannot run "${options.htpasswd}" (install apache2-utils): ${(error as Error).message}`);
  }
}

function configFor(dir: string, port: number, options: RegistryOptions): Record<string, unknown> {
  const endpoint = options.notifications;
  return {
    version: 0.1,
    log: { level: 'info', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: join(dir, 'data') }, delete: { enabled: true } },
    http: { addr: `127.0.0.1:${port}`, secret: 'kfm-test-secret' },
    ...(options.auth ? { auth: { htpasswd: { realm: 'kfm-test', path: join(dir, 'htpasswd') } } } : {}),
    ...(endpoint && {
      notifications: {
        endpoints: [{
          name: 'kfm',
          url: endpoint.url,
          // distribution's headers are http.Header: every value a list.
          headers: Object.fromEntries(Object.entries(endpoint.headers ?? {}).map(([k, v]) => [k, [v]])),
          timeout: endpoint.timeout ?? '1s',
          threshold: endpoint.threshold ?? 3,
          backoff: endpoint.backoff ?? '1s',
          ...(endpoint.ignore && { ignore: endpoint.ignore }),
        }],
      },
    }),
  };
}

async function waitUntilReady(url: string, child: ChildProcess, options: RegistryOptions, logs: () => string) {
  const deadline = Date.now() + options.readyTimeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`docker-registry exited (${child.exitCode ?? child.signalCode}):\n${logs()}`);
    }
    const status = await fetch(`${url}/v2/`).then((r) => r.status, () => 0);
    if (status === 200 || status === 401) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`docker-registry did not answer GET /v2/ within ${options.readyTimeoutMs} ms:\n${logs()}`);
}

/** One registry process on a fresh port; its `stop()` kills it (SIGTERM, then SIGKILL). */
async function launch(dir: string, options: RegistryOptions, auth?: RegistryCredentials): Promise<TestRegistry> {
  const port = await freePort();
  await writeFile(join(dir, 'config.yml'), stringify(configFor(dir, port, options)));
  let output = '';
  const child = spawn(options.binary, ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const collect = (chunk: Buffer) => void (output = (output + chunk.toString()).slice(-20_000));
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill); // a crashed test run must not leave a registry behind
  const stop = async () => {
    process.removeListener('exit', kill);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(kill, 2000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitUntilReady(url, child, options, () => output);
  } catch (error) {
    kill();
    await exited;
    throw error;
  }
  return { url, host: `127.0.0.1:${port}`, port, auth, dir, logs: () => output, stop };
}

/** Starts a registry; always pair with `stop()` (afterAll). */
export async function startRegistry(opts: Partial<RegistryOptions> = {}): Promise<TestRegistry> {
  const options = { ...defaults, ...opts };
  await access(options.binary, constants.X_OK).catch(() => {
    throw new Error(`${options.binary} is missing: install the Debian package docker-registry (apt-get install docker-registry)`);
  });
  const auth = options.auth || undefined;
  watchSecrets(auth?.password);
  const dir = await mkdtemp(join(tmpdir(), 'kfm-registry-'));
  try {
    if (auth) await writeFile(join(dir, 'htpasswd'), await bcryptLine(options, auth));
    for (let attempt = 1; ; attempt++) {
      try {
        return await launch(dir, options, auth);
      } catch (error) {
        // Another process may take the port between freePort() and the registry's bind.
        if (attempt >= 3 || !/address already in use/.test((error as Error).message)) throw error;
      }
    }
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

export interface PushImageOptions {
  repository: string;
  /** Without a tag the manifest is pushed by digest. */
  tag?: string;
  mediaType: 'oci' | 'docker';
  /** Layer content; a counter makes every push a new digest when omitted. */
  content?: string;
  /** Defaults to the registry's own user; `null` pushes anonymously. */
  auth?: RegistryCredentials | null;
}

const TYPES = {
  oci: {
    manifest: 'application/vnd.oci.image.manifest.v1+json',
    config: 'application/vnd.oci.image.config.v1+json',
    layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
  },
  docker: {
    manifest: 'application/vnd.docker.distribution.manifest.v2+json',
    config: 'application/vnd.docker.container.image.v1+json',
    layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  },
};
let pushes = 0;
const sha256 = (bytes: Buffer | string) => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

/** Pushes a small image over the v2 API (monolithic blob uploads); returns the manifest digest. */
export async function pushImage(registry: Pick<TestRegistry, 'url' | 'auth'>, options: PushImageOptions): Promise<string> {
  const types = TYPES[options.mediaType];
  const auth = options.auth === undefined ? registry.auth : (options.auth ?? undefined);
  const authorization: Record<string, string> = auth
    ? { authorization: `Basic ${Buffer.from(`${auth.username}:${auth.password}`).toString('base64')}` }
    : {};
  const base = `${registry.url}/v2/${options.repository}`;
  const send = async (url: string, init: RequestInit, expected: number) => {
    const response = await fetch(url, { ...init, headers: { ...authorization, ...init.headers } });
    if (response.status !== expected) {
      throw new Error(`${init.method} ${url} answered ${response.status}: ${await response.text()}`);
    }
    return response;
  };
  const uploadBlob = async (bytes: Buffer, mediaType: string) => {
    const started = await send(`${base}/blobs/uploads/`, { method: 'POST' }, 202);
    const location = new URL(started.headers.get('location') ?? '', registry.url);
    location.searchParams.set('digest', sha256(bytes));
    const body = new Uint8Array(bytes);
    await send(location.href, { method: 'PUT', body, headers: { 'content-type': 'application/octet-stream' } }, 201);
    return { mediaType, digest: sha256(bytes), size: bytes.length };
  };

  const text = options.content ?? `kfm test layer ${process.pid} ${Date.now()} ${++pushes}`;
  const layer = await uploadBlob(gzipSync(text), types.layer);
  const config = Buffer.from(
    JSON.stringify({ architecture: 'amd64', os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [sha256(text)] } }),
  );
  const manifest = Buffer.from(JSON.stringify({
    schemaVersion: 2,
    mediaType: types.manifest,
    config: await uploadBlob(config, types.config),
    layers: [layer],
  }));
  const digest = sha256(manifest);
  const body = new Uint8Array(manifest);
  const headers = { 'content-type': types.manifest };
  const put = await send(`${base}/manifests/${options.tag ?? digest}`, { method: 'PUT', body, headers }, 201);
  const answered = put.headers.get('docker-content-digest');
  if (answered !== digest) throw new Error(`registry stored the manifest as ${answered}, expected ${digest}`);
  return digest;
}
