// moto in server mode: the real AWS APIs (SQS FIFO, SSM, Secrets Manager, ECR, EKS, STS, CloudWatch)
// for the end-to-end suites, one process per test file on a free 127.0.0.1 port. It is installed by
// `bash scripts/install-test-peers.sh` (scripts/test-peers/install-moto.sh) into a venv outside the
// repository, keyed by the version pinned in scripts/test-peers/versions.env; this module computes the
// same path. It never skips: a missing venv is a loud failure, because a skipped AWS test proves nothing.
import { spawn } from 'node:child_process';
import { access, constants, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './registry.js';

const root = join(import.meta.dirname, '..', '..');

export interface MotoClientConfig {
  endpoint: string;
  region: 'eu-west-1';
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export interface Moto {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  pid: number;
  /** For any AWS SDK v3 client: `new SQSClient(moto.clientConfig)`. */
  clientConfig: MotoClientConfig;
  /** moto's own log so far (for failure messages). */
  logs(): string;
  /** Stops this process (SIGTERM, then SIGKILL), and only this one. */
  stop(): Promise<void>;
}

/** KEY=VALUE lines of versions.env (the shell scripts source the same file). */
export async function peerVersions(): Promise<Record<string, string>> {
  const text = await readFile(join(root, 'scripts', 'test-peers', 'versions.env'), 'utf8');
  return Object.fromEntries(
    text.split('\n').map((line) => /^([A-Z0-9_]+)=(.*)$/.exec(line.trim())).filter((m) => m !== null).map((m) => [m[1]!, m[2]!]),
  );
}

/** The moto_server that install-moto.sh installs: `${KFM_PEERS_CACHE:-~/.cache/kfm-test-peers}/moto-<v>/venv/bin`. */
export async function motoServerPath(): Promise<string> {
  const version = (await peerVersions()).KFM_MOTO_VERSION;
  if (!version) throw new Error('scripts/test-peers/versions.env has no KFM_MOTO_VERSION');
  const cache = process.env.KFM_PEERS_CACHE || join(homedir(), '.cache', 'kfm-test-peers');
  return join(cache, `moto-${version}`, 'venv', 'bin', 'moto_server');
}

const READY_TIMEOUT_MS = 20_000; // ~1.2 s on an idle machine; the suites share 2 cores with a Go build

async function launch(binary: string): Promise<Moto> {
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  let output = '';
  const child = spawn(binary, ['-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
    // moto's own state only: no AWS profile or credentials of the machine reach it.
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', PYTHONUNBUFFERED: '1' },
  });
  const collect = (chunk: Buffer) => void (output = (output + chunk.toString()).slice(-20_000));
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const kill = () => child.kill('SIGKILL');
  process.once('exit', kill); // a crashed test run must not leave moto behind
  const stop = async () => {
    process.removeListener('exit', kill);
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(kill, 3000);
      await exited;
      clearTimeout(timer);
    }
  };
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      process.removeListener('exit', kill);
      throw new Error(`moto_server exited (${child.exitCode ?? child.signalCode}):\n${output}`);
    }
    // moto's management API answers once the server serves requests.
    if ((await fetch(`${endpoint}/moto-api/`).then((r) => r.status, () => 0)) === 200) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`moto_server did not answer on ${endpoint} within ${READY_TIMEOUT_MS} ms:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    endpoint,
    pid: child.pid!,
    clientConfig: { endpoint, region: 'eu-west-1', credentials: { accessKeyId: 'testing', secretAccessKey: 'testing' } },
    logs: () => output,
    stop,
  };
}

/** Starts moto_server; always pair with `stop()` (afterAll). */
export async function startMoto(): Promise<Moto> {
  const binary = await motoServerPath();
  await access(binary, constants.X_OK).catch(() => {
    throw new Error(`${binary} is missing: run \`bash scripts/install-test-peers.sh\` (it installs moto into that venv)`);
  });
  for (let attempt = 1; ; attempt++) {
    try {
      return await launch(binary);
    } catch (error) {
      // Another process may take the port between freePort() and moto's bind.
      if (attempt >= 3 || !/Address already in use|address already in use/.test((error as Error).message)) throw error;
    }
  }
}
