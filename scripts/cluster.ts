// npm run cluster -- up|down: the real local Kubernetes control plane the tests use
// (test/support/control-plane.ts: etcd, kube-apiserver with TLS, client certificates and RBAC,
// controller-manager, scheduler, kwok with one fake node), for trying the deployer end to end.
//
// up    starts it detached under .cluster/ (git-ignored), creates namespace kubeflow, applies
//       deploy/rbac.yaml and prints ONE JSON line on stdout:
//       {"kubeconfig": <admin>, "deployerKubeconfig": <the identity rbac.yaml binds>, "server": <https URL>}
//       Idempotent: when the recorded processes are alive and the server answers, it prints the same line.
//       A cluster found half-dead is stopped (its recorded PIDs only) and started afresh; state is not kept
//       across down/up (a fresh etcd each time).
// down  stops exactly the PIDs `up` recorded (checked to be ours: their command line names .cluster/),
//       waits for them to exit, and removes nothing. Nothing running: says so, exits 0.
import { existsSync, readFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { request } from 'node:https';
import { join } from 'node:path';
import { REPO_ROOT, kubectlPath, startControlPlane } from '../test/support/control-plane.js';

const STATE_DIR = join(REPO_ROOT, '.cluster');
const RECORD = join(STATE_DIR, 'control-plane.json');
interface Recorded { server: string; pids: number[]; names: string[]; adminKubeconfig: string; deployerKubeconfig: string; caFile: string }
const say = (text: string) => process.stderr.write(`cluster: ${text}\n`);

function recorded(): Recorded | undefined {
  try {
    return JSON.parse(readFileSync(RECORD, 'utf8')) as Recorded;
  } catch {
    return undefined;
  }
}

/** Alive AND ours: a reused PID belonging to another program is never signalled. */
function ours(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(STATE_DIR);
  } catch {
    return false;
  }
}

function readyz(state: Recorded): Promise<boolean> {
  const pki = join(STATE_DIR, 'pki');
  return new Promise((resolve) => {
    const req = request(`${state.server}/readyz`, {
      ca: readFileSync(state.caFile), cert: readFileSync(join(pki, 'admin.crt')), key: readFileSync(join(pki, 'admin.key')), agent: false,
    }, (res) => (res.resume(), resolve(res.statusCode === 200)));
    req.on('error', () => resolve(false)).setTimeout(3000, () => req.destroy());
    req.end();
  });
}

const line = (s: Pick<Recorded, 'adminKubeconfig' | 'deployerKubeconfig' | 'server'>) =>
  JSON.stringify({ kubeconfig: s.adminKubeconfig, deployerKubeconfig: s.deployerKubeconfig, server: s.server });

async function stopRecorded(state: Recorded): Promise<number[]> {
  const alive = state.pids.filter(ours);
  // Reverse start order: kwok, scheduler, controller-manager, then the API server, etcd last.
  for (const pid of [...alive].reverse()) {
    try { process.kill(pid, 'SIGTERM'); } catch { continue; }
    const deadline = Date.now() + 15_000;
    while (ours(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    if (ours(pid)) process.kill(pid, 'SIGKILL');
  }
  return alive;
}

async function up(): Promise<void> {
  const state = recorded();
  if (state && state.pids.every(ours) && (await readyz(state))) {
    say(`already running (pids ${state.pids.join(' ')})`);
    console.log(line(state));
    return;
  }
  if (state) {
    const stopped = await stopRecorded(state);
    if (stopped.length) say(`a half-running cluster: stopped pids ${stopped.join(' ')}`);
  }
  // A fresh start: the previous run's etcd data and logs go (only what this script made, under .cluster/).
  if (existsSync(STATE_DIR)) for (const entry of await readdir(STATE_DIR)) await rm(join(STATE_DIR, entry), { recursive: true, force: true });
  say('starting etcd, kube-apiserver, kube-controller-manager, kube-scheduler, kwok');
  const cp = await startControlPlane({ stateDir: STATE_DIR, persistent: true });
  await cp.applyDeployerRbac();
  say(`ready in ${(cp.startupMs / 1000).toFixed(1)} s (pids ${cp.pids.join(' ')}); logs in ${join(STATE_DIR, 'logs')}; kubectl: ${kubectlPath()}`);
  console.log(line(cp));
}

async function down(): Promise<void> {
  const state = recorded();
  const alive = state?.pids.filter(ours) ?? [];
  if (!state || alive.length === 0) {
    say('nothing running');
    return;
  }
  const stopped = await stopRecorded(state);
  say(`stopped pids ${stopped.join(' ')}`);
}

const command = process.argv[2];
try {
  if (command === 'up') await up();
  else if (command === 'down') await down();
  else {
    say('usage: npm run cluster -- up|down');
    process.exitCode = 2;
  }
} catch (error) {
  say((error as Error).message);
  process.exitCode = 1;
}
// The children are detached and unreferenced; nothing else keeps this process.
process.exit();
