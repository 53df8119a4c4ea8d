// Issue 10's figures (durable intake), for bench/run.ts, measured in the same run:
// - intake's cold init on Lambda (bundled intake.cjs, Lambda's own variables, KFM_QUEUE_URL set to a FIFO URL
//   nothing listens on: it takes the SQS path, and an ignored push or a failed
//   authentication sends nothing), as a ratio to `node -e 0` (target ≤ 1.5×);
// - the worker's cold init on the EKS path as on Lambda (endpoint, CA and the role's
//   credentials in the environment, its queue, Lambda's own variables: EMF metrics on; and,
//   for information, the same without metrics): one step (a config change: 5 reads, 1 apply)
//   against an HTTPS stand-in API server, as a ratio to a minimal script that does the
//   same I/O (bench/eks-io-baseline.cjs: TLS to the same stand-in, the same reads and
//   the same PATCH), target ≤ 1.5×;
// - intake's answer, warm (target p99 ≤ 20 ms), and push→patch through the in-process
//   queue (bench/intake-worker.ts) and through moto's SQS (bench/moto-worker.ts);
// - with Node 22 installed (tools/node22, the Lambda runtime's major), the two cold inits again
//   on it, and intake's with a warm compile cache (for information only: see below).
import { execFile, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { measureColdStarts, type ColdCase, type ColdStart } from './cold-start.js';
import { startEksStandIn, type RecordedRequest } from './eks-stand-in.js';
import { buildWithoutPowertools } from './without-powertools.js';
import { configCommand, httpEvent, pushCommand, sqsBatch } from './events.js';
import { median, ms, percentile } from './stats.js';

const run = promisify(execFile);
const root = join(import.meta.dirname, '..');
const STATE_PATH = '/api/v1/namespaces/kubeflow/configmaps/kubeflow-metadata-deployer-state';
/** A FIFO queue URL: valid for the settings and the adapter; the bench never sends to it. */
const FAKE_QUEUE = 'https://sqs.eu-west-1.amazonaws.com/123456789012/kfm-bench.fifo';

/**
 * The variables Lambda's runtime sets that change what Powertools does: the function's name (Metrics
 * writes EMF lines), AWS_LAMBDA_INITIALIZATION_TYPE (a cold start: the log line says cold_start, Metrics
 * writes its ColdStart line), TZ as Lambda sets it.
 */
const lambdaRuntime = (name: string) => ({
  AWS_LAMBDA_FUNCTION_NAME: name, AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand', AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '1024',
  AWS_LAMBDA_FUNCTION_VERSION: '$LATEST', AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x', TZ: ':UTC',
});

export interface Figures {
  row(figure: string, measured: string, target: string, ok?: boolean): void;
  notes: string[];
  step(text: string): void;
  bundles: Record<string, string>;
  runs: number;
  /** A Node 22 binary (the Lambda runtime's major), when installed: the cold starts again on it, for information. */
  node22?: string;
}

const ratio = (cold: ColdStart, baseline: string) =>
  `${cold.ratio.toFixed(2)}× (${ms(cold.medianMs)} vs ${ms(cold.baselineMs)} for ${baseline}); CPU ${cold.cpu.ratio.toFixed(2)}× (${ms(cold.cpu.medianMs)} vs ${ms(cold.cpu.baselineMs)})`;
const p = (values: number[], digits = 1) => `p50 ${median(values).toFixed(digits)} ms / p99 ${percentile(values, 99).toFixed(digits)} ms`;

/** Runs the worker bundle once in a fresh process (as test/support/invoke-bundle.cjs does), asynchronously: a peer may live in this process. */
async function invokeWorker(bundle: string, event: unknown, env: Record<string, string>, dir: string): Promise<{ answer?: { batchItemFailures: unknown[] }; stdout: string }> {
  const eventFile = join(dir, `event-${Math.random().toString(36).slice(2)}.json`);
  const resultFile = `${eventFile}.result`;
  writeFileSync(eventFile, JSON.stringify(event));
  const { stdout } = await run(process.execPath, [join(root, 'test', 'support', 'invoke-bundle.cjs'), bundle, eventFile, resultFile], {
    env: { PATH: process.env.PATH ?? '', HOME: dir, AWS_EC2_METADATA_DISABLED: 'true', ...env },
  });
  return { ...(JSON.parse(readFileSync(resultFile, 'utf8')) as { answer?: { batchItemFailures: unknown[] } }), stdout };
}

const requestKey = (r: Pick<RecordedRequest, 'method' | 'path'>) => `${r.method} ${r.path}`;

export async function queueFigures({ row, notes, step, bundles, runs, node22 }: Figures): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'kfm-bench-queue-'));
  try {
    // The deployer's state as a first step leaves it (image fetched, no MySQL yet): the stand-in serves it.
    const seeded = await invokeWorker(bundles.worker!, sqsBatch(configCommand(0, { mysql: false }), pushCommand(0)), { KFM_TARGET: `dir:${join(dir, 'seed')}`, KFM_OFFLINE: 'true' }, dir);
    if (seeded.answer?.batchItemFailures.length !== 0) throw new Error(`seeding the state failed: ${seeded.stdout.slice(0, 500)}`);
    const state = parse(readFileSync(join(dir, 'seed', 'kubeflow', 'configmap-kubeflow-metadata-deployer-state.yaml'), 'utf8'));
    state.metadata.resourceVersion = '100';
    const eks = await startEksStandIn({ [STATE_PATH]: state });
    try {
      // As Lambda sets the worker up: its queue (a rollout check goes back on it), the function's name (so
      // Powertools Metrics writes its EMF lines: ColdStart, Applied, StepDuration), the runtime's own variables.
      const eksEnv = {
        KFM_TARGET: 'kubernetes', KFM_EKS_CLUSTER: 'kfm-bench', KFM_EKS_ENDPOINT: eks.endpoint, KFM_EKS_CA: Buffer.from(eks.cert).toString('base64'),
        AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIDBENCH', AWS_SECRET_ACCESS_KEY: 'bench-secret-access-key',
        KFM_QUEUE_URL: FAKE_QUEUE, ...lambdaRuntime('kfm-bench-worker'),
      };
      const { AWS_LAMBDA_FUNCTION_NAME: _worker, ...eksWithoutMetrics } = eksEnv;
      // Every run: a port change on the served state, so the step applies the state and nothing else.
      const stepEvent = (n: number) => sqsBatch(configCommand(n, { port: 9090, mysql: false }));
      const probe = await invokeWorker(bundles.worker!, stepEvent(0), eksEnv, dir);
      if (probe.answer?.batchItemFailures.length !== 0) throw new Error(`the worker on the EKS stand-in failed: ${probe.stdout.slice(0, 500)}`);
      const io = eks.requests.splice(0);
      const plan = join(dir, 'eks-io.json');
      writeFileSync(plan, JSON.stringify({ endpoint: eks.endpoint, ca: eks.cert, token: 'k8s-aws-v1.bench', requests: io.map(({ method, path, contentType, body }) => ({ method, path, contentType, body })) }));
      const described = Object.entries(io.reduce<Record<string, number>>((count, r) => ({ ...count, [r.method]: (count[r.method] ?? 0) + 1 }), {})).map(([m, n]) => `${n} ${m}`).join(' + ');

      step(`cold starts: ${runs} rounds of intake on the SQS path (vs node -e 0) and the worker on EKS (vs a script doing its I/O: ${described})`);
      // As Lambda sets it up: the queue's URL, the function's name (so Powertools Metrics writes its EMF line),
      // the runtime's own variables that change what Powertools does (AWS_LAMBDA_INITIALIZATION_TYPE: a cold
      // start, so the log line says cold_start and Metrics writes its ColdStart EMF line too; TZ as Lambda sets
      // it); the credentials in the environment (a store's round trip at cold start is not intake's code).
      const lambdaIntake = {
        KFM_QUEUE_URL: FAKE_QUEUE, AWS_REGION: 'eu-west-1', KFM_IMAGE: 'registry.example:5000/another/repository:v1', ...lambdaRuntime('kfm-bench-intake'),
      };
      const { AWS_LAMBDA_FUNCTION_NAME: _name, ...withoutMetrics } = lambdaIntake;
      const cases: ColdCase[] = [
        { name: 'intake on Lambda (KFM_QUEUE_URL, EMF metrics), an ignored push', bundle: bundles.intake!, route: 'intake', env: lambdaIntake },
        { name: 'intake, KFM_QUEUE_URL but no AWS_LAMBDA_FUNCTION_NAME (no metrics), an ignored push', bundle: bundles.intake!, route: 'intake', env: withoutMetrics },
        {
          name: 'intake on Lambda (KFM_QUEUE_URL, EMF metrics), a failed authentication (401)', bundle: bundles.intake!, route: 'intake', env: lambdaIntake,
          event: (n) => { const event = httpEvent('push', n) as { headers: Record<string, string> }; event.headers = { ...event.headers, authorization: 'Bearer wrong' }; return event; },
        },
        { name: `worker on EKS as on Lambda (EMF metrics; one step: ${described})`, bundle: bundles.worker!, route: 'worker', event: stepEvent, env: eksEnv, baseline: [join(import.meta.dirname, 'eks-io-baseline.cjs'), plan] },
        { name: 'worker on EKS, no AWS_LAMBDA_FUNCTION_NAME (no metrics)', bundle: bundles.worker!, route: 'worker', event: stepEvent, env: eksWithoutMetrics, baseline: [join(import.meta.dirname, 'eks-io-baseline.cjs'), plan] },
        // What the targets would leave for everything else: no Powertools at all (bench/without-powertools.ts).
        { name: 'intake without Powertools (Logger stand-in, no metrics; a bench-only build), an ignored push', bundle: await buildWithoutPowertools('intake', join(dir, 'bare')), route: 'intake', env: withoutMetrics },
        { name: 'worker on EKS without Powertools (Logger stand-in, no metrics; a bench-only build)', bundle: await buildWithoutPowertools('worker', join(dir, 'bare')), route: 'worker', event: stepEvent, env: eksWithoutMetrics, baseline: [join(import.meta.dirname, 'eks-io-baseline.cjs'), plan] },
      ];
      const [ignored, noMetrics, refused, worker, workerNoMetrics, bareIntake, bareWorker] = await measureColdStarts(cases, runs);
      // A 401 is not a 2xx: cold-invoke counts it as a failure; only its time is wanted.
      refused!.failures = refused!.failures.filter((failure) => !failure.includes('"statusCode":401'));
      row(`cold init, ${ignored!.name} (bundled, median of ${runs})`, ratio(ignored!, 'node -e 0'), '≤ 1.5×', ignored!.ratio <= 1.5 && ignored!.failures.length === 0);
      row(`cold init, ${noMetrics!.name} (median of ${runs})`, ratio(noMetrics!, 'node -e 0'), '—');
      row(`cold init, ${refused!.name} (median of ${runs})`, ratio(refused!, 'node -e 0'), '—');
      row(`cold init, ${worker!.name} (median of ${runs})`, ratio(worker!, 'the same I/O in a minimal script'), '≤ 1.5×', worker!.ratio <= 1.5 && worker!.failures.length === 0);
      row(`cold init, ${workerNoMetrics!.name} (median of ${runs})`, ratio(workerNoMetrics!, 'the same I/O in a minimal script'), '—');
      row(`cold init, ${bareIntake!.name} (median of ${runs})`, ratio(bareIntake!, 'node -e 0'), '—');
      row(`cold init, ${bareWorker!.name} (median of ${runs})`, ratio(bareWorker!, 'the same I/O in a minimal script'), '—');
      for (const cold of [ignored!, noMetrics!, refused!, worker!, workerNoMetrics!, bareIntake!, bareWorker!]) {
        if (cold.failures.length) notes.push(`cold ${cold.name}: ${cold.failures.length} runs failed, first: ${cold.failures[0]}`);
      }
      // Lambda's runtime is nodejs22.x: the same cases on Node 22, when `npm run test:node22` has installed it.
      if (node22) {
        step(`the same cold starts on Node 22 (${node22})`);
        // With Node 22's compile cache (NODE_COMPILE_CACHE, what module.enableCompileCache() turns on) warm from
        // the first round: what V8's compilation costs intake. NOT a Lambda figure: the cache's files are keyed
        // by the module's absolute path and its directory by the exact Node version and V8 flags, so a cache
        // made at build time misses on /var/task, and a Lambda environment's /tmp starts empty: its one
        // process never finds a cache of its own.
        const cache = join(dir, 'compile-cache');
        const cached: ColdCase = { ...cases[0]!, name: `${cases[0]!.name}, compile cache warm (not a Lambda cold start)`, env: { ...lambdaIntake, NODE_COMPILE_CACHE: cache } };
        const on22 = await measureColdStarts([cases[0]!, cases[3]!, cached], runs, node22);
        row(`cold init on Node 22, ${on22[0]!.name} (median of ${runs})`, ratio(on22[0]!, 'node22 -e 0'), '—');
        row(`cold init on Node 22, ${on22[1]!.name} (median of ${runs})`, ratio(on22[1]!, 'the same I/O in a minimal script on Node 22'), '—');
        row(`cold init on Node 22, ${on22[2]!.name} (median of ${runs})`, ratio(on22[2]!, 'node22 -e 0'), '—');
        for (const cold of on22) if (cold.failures.length) notes.push(`cold ${cold.name} on Node 22: ${cold.failures.length} runs failed, first: ${cold.failures[0]}`);
      }
      // Same I/O: every worker run and every baseline run sent exactly the probe's requests.
      const expected = io.map(requestKey).sort().join('\n');
      const perRun = io.length;
      const seen = eks.requests.map(requestKey);
      let mismatched = 0;
      for (let at = 0; at < seen.length; at += perRun) if (seen.slice(at, at + perRun).sort().join('\n') !== expected) mismatched += 1;
      // Each EKS case and its baseline, every round: three cases on Node 20, one on Node 22.
      const eksRuns = 2 * runs * (3 + (node22 ? 1 : 0));
      if (seen.length !== eksRuns * perRun || mismatched) notes.push(`EKS cold starts: ${seen.length} requests for ${eksRuns} runs of ${perRun}, ${mismatched} runs with other requests than the worker's probe`);
    } finally {
      await eks.stop();
    }

    step('intake answer, warm (no-op queue), and push→patch through the in-process queue');
    const out = join(dir, 'intake.json');
    const warm = spawnSync(process.execPath, ['--no-warnings', '--import', 'tsx', join(import.meta.dirname, 'intake-worker.ts'), out, process.env.KFM_BENCH_ANSWERS ?? '1000', process.env.KFM_BENCH_PUSHES ?? '200'], {
      cwd: root, encoding: 'utf8', timeout: 600_000,
    });
    if (warm.status !== 0) throw new Error(`bench/intake-worker.ts failed (exit ${warm.status}):\n${warm.stderr}`);
    const { direct, overHttp, patched, failures } = JSON.parse(readFileSync(out, 'utf8')) as Record<'direct' | 'overHttp' | 'patched', number[]> & { failures: string[] };
    row(`intake answer, warm, ${direct.length} pushes (the handler's call; no-op queue)`, p(direct, 2), 'p99 ≤ 20 ms', failures.length === 0 && percentile(direct, 99) <= 20);
    row(`intake answer, warm, ${overHttp.length} pushes behind the local HTTP server (no-op queue)`, p(overHttp, 2), '—');
    row(`push→patch through the in-process queue, directory target (intake call → drain → Deployment file), ${patched.length} pushes`, p(patched), 'p99 ≤ 50 ms', failures.length === 0 && percentile(patched, 99) <= 50);
    if (failures.length) notes.push(`intake/queue: ${failures.length} failures, first: ${failures[0]}`);

    const motoPushes = process.env.KFM_BENCH_PUSHES ?? '100';
    step(`push→patch through moto's SQS (test/support/moto.ts): ${motoPushes} pushes`);
    const motoOut = join(dir, 'moto.json');
    const viaMoto = spawnSync(process.execPath, ['--no-warnings', '--import', 'tsx', join(import.meta.dirname, 'moto-worker.ts'), motoOut, motoPushes], {
      cwd: root, encoding: 'utf8', timeout: 600_000,
    });
    const moto = viaMoto.status === 0 || viaMoto.status === 3
      ? JSON.parse(readFileSync(motoOut, 'utf8')) as Partial<Record<'patched' | 'answers' | 'transits', number[]>> & { failures?: string[]; missing?: string }
      : { failures: [`bench/moto-worker.ts failed (exit ${viaMoto.status}): ${viaMoto.stderr.slice(-500)}`] };
    if (moto.missing) {
      notes.push(`push→patch through moto's SQS not measured: ${moto.missing} is missing.`);
    } else if (moto.patched && moto.answers && moto.transits) {
      const fine = !moto.failures?.length && moto.patched.length === Number(motoPushes);
      row(`push→patch through moto's SQS, directory target (intake call → SendMessage → long-poll ReceiveMessage → worker step → Deployment file), ${moto.patched.length} pushes`, p(moto.patched), '—', fine ? undefined : false);
      row(`  of which intake's answer (its SendMessage to moto included)`, p(moto.answers), '—');
      row(`  of which the queue (SendMessage answered → the batch in the worker's hands)`, p(moto.transits), '—');
    }
    if (moto.failures?.length) notes.push(`moto's SQS: ${moto.failures.length} failures, first: ${moto.failures[0]}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
