// npm run bench: every figure of issues 5 and 10 in one run, next to its target.
// Builds the bundles (scripts/build.mjs), then measures cold init, bundle
// sizes, push→patch latency (directory target; a real Kubernetes API server +
// real registry, through the handlers and, warm, the worker's step alone),
// writes for duplicate deliveries (the API server's audit log), ECR token calls, issue 10's figures
// (bench/queue-figures.ts: intake and the worker cold as on Lambda, intake's warm answer, push→patch
// through the in-process queue and through moto's SQS) and issue 12's cold-start cost of each library
// on intake's path (bench/library-costs.ts). Misses are printed as FAIL, but the exit code stays 0:
// the machines are noisy.
// KFM_BENCH_RUNS (cold starts per handler, default 15), KFM_BENCH_PUSHES
// (latency samples, default 200 dir / 100 kube) tune the run length.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane } from '../test/support/control-plane.js';
import { startAwsStandIn } from '../test/support/aws-stand-in.js';
import { measureColdStarts, type ColdCase } from './cold-start.js';
import { queueFigures } from './queue-figures.js';
import { LIBRARIES, measureLibraryCosts } from './library-costs.js';
import { median, ms, percentile } from './stats.js';

const root = join(import.meta.dirname, '..');
const MB = 1024 * 1024;
const HANDLERS = ['intake', 'worker', 'status'];
const runs = Math.max(15, Number(process.env.KFM_BENCH_RUNS ?? 15));
const pushes = Number(process.env.KFM_BENCH_PUSHES ?? 0);
const DUPLICATES = 1000;
const NODE22 = join(root, 'tools', 'node22', 'node_modules', '.bin', 'node');

interface Row { figure: string; measured: string; target: string; ok?: boolean }
const rows: Row[] = [];
const notes: string[] = [];
const row = (figure: string, measured: string, target: string, ok?: boolean) => void rows.push({ figure, measured, target, ok });
const step = (text: string) => process.stderr.write(`bench: ${text}\n`);

function node(args: string[], what: string): string {
  const run = spawnSync(process.execPath, args, { cwd: root, encoding: 'utf8', maxBuffer: 64 * MB, timeout: 600_000 });
  if (run.status !== 0) throw new Error(`${what} failed (exit ${run.status}):\n${run.stderr}${run.error?.message ?? ''}`);
  return run.stdout;
}

/** Runs a bench worker (TypeScript, via tsx) that writes its figures to a JSON file. */
function worker<T>(script: string, args: string[]): T {
  const dir = mkdtempSync(join(tmpdir(), 'kfm-bench-'));
  try {
    const out = join(dir, 'result.json');
    node(['--no-warnings', '--import', 'tsx', join(root, 'bench', script), ...args.map((a) => (a === '<out>' ? out : a))], script);
    return JSON.parse(readFileSync(out, 'utf8')) as T;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

step('building the bundles');
const files = JSON.parse(node([join(root, 'scripts', 'build.mjs'), '--json'], 'build')) as Array<{ name: string; file: string; bytes: number }>;
const bundles = Object.fromEntries(HANDLERS.map((name) => [name, join(root, 'dist', `${name}.cjs`)]));

step(`cold starts: ${runs} rounds of node -e 0 / intake (a push, in-process worker) / worker (config + push batch) / status (dir target), status (Kubernetes target: kubeconfig, EKS)`);
const cp = await startControlPlane();
await cp.applyDeployerRbac();
const aws = await startAwsStandIn();
const kubeconfig = cp.deployerKubeconfig;
try {
  // Directory target, no KFM_QUEUE_URL: intake answers a push and its in-process worker applies it in the same
  // process (a local run; on Lambda see queue-figures.ts); the worker applies a config and a push from one batch.
  const label: Record<string, string> = { intake: 'intake, no queue (in-process worker applies the push)', worker: 'worker (an SQS batch: config, push)' };
  const cases: ColdCase[] = HANDLERS.map((name) => ({ name: label[name] ?? name, bundle: bundles[name]!, route: name as ColdCase['route'] }));
  cases.push({ name: 'status, KFM_TARGET=kubernetes (real API server)', bundle: bundles.status!, route: 'status', env: { KFM_TARGET: 'kubernetes', KUBECONFIG: kubeconfig } });
  // As on Lambda: EKS endpoint and CA configured, the role's credentials in the environment.
  cases.push({
    name: 'status, KFM_TARGET=kubernetes on EKS (stand-in API server)', bundle: bundles.status!, route: 'status',
    env: {
      KFM_TARGET: 'kubernetes', KFM_EKS_CLUSTER: 'kfm-test', KFM_EKS_ENDPOINT: aws.endpoint, KFM_EKS_CA: Buffer.from(aws.cert).toString('base64'),
      AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIDBENCH', AWS_SECRET_ACCESS_KEY: 'bench-secret-access-key',
    },
  });
  for (const cold of await measureColdStarts(cases, runs)) {
    const info = cold.name.includes('kubernetes') || cold.name.includes('no queue');
    const figure = `${cold.ratio.toFixed(2)}× (${ms(cold.medianMs)} vs ${ms(cold.baselineMs)}); CPU ${cold.cpu.ratio.toFixed(2)}×`;
    row(`cold init, ${cold.name} (median of ${runs}, ratio to node -e 0)`, figure, info ? '—' : '≤ 2.0×', info ? undefined : cold.ratio <= 2 && cold.failures.length === 0);
    if (cold.failures.length) notes.push(`cold ${cold.name}: ${cold.failures.length} runs failed, first: ${cold.failures[0]}`);
  }
  // The Lambda runtime's major (nodejs22.x), when `npm run test:node22` has installed it: for information.
  if (existsSync(NODE22)) {
    step(`cold starts on Node 22 (${NODE22})`);
    for (const cold of await measureColdStarts(cases.slice(0, HANDLERS.length), runs, NODE22)) {
      row(`cold init on Node 22, ${cold.name} (median of ${runs}, ratio to node22 -e 0)`, `${cold.ratio.toFixed(2)}× (${ms(cold.medianMs)} vs ${ms(cold.baselineMs)}); CPU ${cold.cpu.ratio.toFixed(2)}×`, '—');
      if (cold.failures.length) notes.push(`cold ${cold.name} on Node 22: ${cold.failures.length} runs failed, first: ${cold.failures[0]}`);
    }
  } else {
    notes.push('Node 22 (the Lambda runtime) not measured: `npm run test:node22` installs it in tools/node22.');
  }
} finally {
  await cp.stop();
  await aws.stop();
}

for (const { name, bytes } of files) {
  const handler = HANDLERS.includes(name.replace(/\.cjs$/, ''));
  const size = `${(bytes / 1024).toFixed(0)} KiB`;
  if (handler) row(`bundle size, dist/${name}`, size, '≤ 1 MB', bytes <= MB);
  else if (name === 'kfm-errors.cjs') row(`shared chunk, dist/${name} (required by every bundle)`, size, '—');
  else row(`lazy chunk, dist/${name} (loaded on use only)`, size, '—');
}

interface Latency {
  totals: number[]; overheads: number[]; failures: string[];
  duplicates: Record<'first' | 'again' | 'racing', { statuses: number[]; writes: number; deploymentWrites: number; logged?: number; loggedDeployment?: number }>;
}
for (const [mode, label, samples] of [['dir', 'directory target', pushes || 200], ['kube', 'real Kubernetes API server', pushes || 100]] as const) {
  step(`push→patch latency, ${label}: ${samples} pushes, then ${DUPLICATES}×2 duplicate deliveries`);
  const result = worker<Latency>('latency-worker.ts', [mode, '<out>', String(samples), String(DUPLICATES)]);
  const { totals, overheads, failures, duplicates } = result;
  const p = (values: number[]) => `p50 ${ms(median(values))} / p99 ${ms(percentile(values, 99))}`;
  const fine = failures.length === 0 && totals.length === samples;
  if (mode === 'kube') {
    row(`push→patch, ${label}, end to end`, p(totals), '—');
    row(`push→patch overhead, ${label} (minus time in the API server + registry)`, p(overheads), 'p99 ≤ 50 ms', fine && percentile(overheads, 99) <= 50);
  } else {
    row(`push→patch, ${label} (offline)`, p(totals), 'p99 ≤ 50 ms', fine && percentile(totals, 99) <= 50);
  }
  if (failures.length) notes.push(`${label}: ${failures.length} pushes did not patch, first: ${failures[0]}`);
  const { first, again, racing } = duplicates;
  const log = (d: { logged?: number }) => (d.logged === undefined ? '' : `; write requests in the API server's audit log, 409s included: ${d.logged}`);
  row(`target writes, ${DUPLICATES} duplicate deliveries of an applied push, ${label}`, `${again.writes}${log(again)} (answers ${again.statuses.join('/')})`, '≤ 1', again.writes <= 1 && (again.logged ?? 0) <= 1);
  row(`Deployment writes, ${DUPLICATES} racing first deliveries of one push, ${label}`, `${racing.deploymentWrites} (all objects: ${racing.writes}${log(racing)})`, '≤ 1', racing.deploymentWrites <= 1);
  notes.push(`${label}: the push applied once wrote ${first.writes} objects (Deployment ${first.deploymentWrites}).`);
}

{
  // Issue 9, figure 6: the worker's step alone, warm, on the real API server (the handlers' figure above adds HTTP and intake).
  const samples = pushes || 100;
  step(`push→patch latency, the worker's step on a real Kubernetes API server: ${samples} warm pushes`);
  const { totals, overheads, failures } = worker<Pick<Latency, 'totals' | 'overheads' | 'failures'>>('latency-worker.ts', ['kube-step', '<out>', String(samples), '0']);
  const p = (values: number[]) => `p50 ${ms(median(values))} / p99 ${ms(percentile(values, 99))}`;
  row('push→patch, warm, the step (deployer.run) on a real API server + registry, end to end', p(totals), '—');
  row('push→patch overhead, warm, the step on a real API server (minus time in the API server + registry)', p(overheads), 'p99 ≤ 50 ms',
    failures.length === 0 && totals.length === samples && percentile(overheads, 99) <= 50);
  if (failures.length) notes.push(`the step on a real API server: ${failures.length} pushes did not patch, first: ${failures[0]}`);
}

// Issue 10: intake on Lambda and the worker on EKS (cold), intake's warm answer, push→patch through the in-process queue.
await queueFigures({ row, notes, step, bundles, runs, node22: existsSync(NODE22) ? NODE22 : undefined });

// Short processes (an empty one is ~25 ms of CPU): more rounds than the handlers' cold starts, so a few ms show.
const libraryRounds = Math.max(runs, 41);
step(`library cold-start costs: ${libraryRounds} rounds of ${LIBRARIES.length} one-library scripts vs an empty one (bench/library-costs.ts)`);
for (const cost of await measureLibraryCosts(libraryRounds)) {
  const added = `${cost.addedMs < 0 ? '−' : '+'}${ms(Math.abs(cost.addedMs))}`;
  row(`cold-start cost of ${cost.name} (CPU time of a fresh process minus an empty script's, median of ${libraryRounds})`, `${added} (${(cost.addedMs / cost.baselineMs * 100).toFixed(0)}% of the empty script's ${ms(cost.baselineMs)})`, '—');
  if (cost.failures) notes.push(`library cost ${cost.name}: ${cost.failures} runs failed`);
}

step(`ECR: ${DUPLICATES} EventBridge events, 10 at a time`);
const ecr = worker<{ events: number; calls: number; lookups: number; unauthenticated: number; outcomes: Record<string, number> }>('ecr-worker.ts', ['<out>', String(DUPLICATES)]);
row(`ECR GetAuthorizationToken calls, ${ecr.events} ECR events`, String(ecr.calls), '1', ecr.calls === 1 && ecr.unauthenticated === 0);
notes.push(`ECR: ${ecr.lookups} manifest lookups (${ecr.unauthenticated} without the ECR password); outcomes ${JSON.stringify(ecr.outcomes)}.`);

const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => [r.figure, r.measured, r.target][i]!.length), 8));
const line = (cells: string[]) => cells.map((cell, i) => (i < 3 ? cell.padEnd(widths[i]!) : cell)).join(' | ');
console.log(line(['figure', 'measured', 'target', 'ok/FAIL']));
console.log(widths.map((w) => '-'.repeat(w)).concat('-------').join('-|-'));
for (const r of rows) console.log(line([r.figure, r.measured, r.target, r.ok === undefined ? 'info' : r.ok ? 'ok' : 'FAIL']));
console.log(`\nnode ${process.version}, ${process.platform}/${process.arch}; ${notes.length ? '\n- ' + notes.join('\n- ') : ''}`);
