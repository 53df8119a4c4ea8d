// Cold init: fresh `node` processes that require a bundle and run one
// invocation, timed from spawn to exit, alternated with `node -e 0` (or a
// case's own baseline: a minimal script doing the same I/O) so both share the
// machine's noise. The figure is the ratio of the medians. Each process also
// reports its own CPU time at exit (user + system, all threads: a busy machine
// stretches wall time far more than CPU time); for `node -e 0` that is the same
// one-liner with an exit hook that reports it, run in the same rounds.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BENCH_ENV, httpEvent, workerBatch } from './events.js';
import { median } from './stats.js';

export interface ColdCase {
  name: string;
  bundle: string;
  /**
   * The invocation: an HTTP route's request (`intake` is a push), or for `worker` an SQS batch of a
   * config and a push command (the Deployment is written); `event` replaces it (the round's number given).
   */
  route: 'intake' | 'push' | 'config' | 'status' | 'worker';
  event?: (n: number) => unknown;
  /** Replaces the temp `dir:` target (e.g. the Kubernetes target). */
  env?: Record<string, string>;
  /** Its own baseline instead of `node -e 0`: node's arguments (a script doing the same I/O, say). */
  baseline?: string[];
}

export interface ColdStart {
  name: string;
  medianMs: number;
  baselineMs: number;
  ratio: number;
  /** The same medians in CPU time (ms) and their ratio. */
  cpu: { medianMs: number; baselineMs: number; ratio: number };
  failures: string[];
}

/** An exit hook that reports the process's CPU time on fd 3 (it costs microseconds): `node -e` it for `node -e 0`'s figure. */
export const CPU_REPORT = "process.on('exit',()=>{const u=process.cpuUsage();require('node:fs').writeSync(3,String((u.user+u.system)/1000))})";

const script = join(import.meta.dirname, 'cold-invoke.cjs');

/** Spawn → exit, asynchronously (a peer such as the Kubernetes double may live in this process); `cpuMs` as the child reported it on fd 3. */
export function timed(node: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; cpuMs: number; error?: string }> {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    const child = spawn(node, args, { env, stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let cpu = '';
    child.stderr!.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
    (child.stdio[3] as NodeJS.ReadableStream).on('data', (chunk: Buffer) => void (cpu += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      const cpuMs = cpu === '' ? Number.NaN : Number(cpu);
      resolve(code === 0 ? { ms, cpuMs } : { ms, cpuMs, error: (stderr || `exit ${code ?? signal}`).slice(0, 300) });
    });
  });
}

/** `node`: the binary for both sides (default: this one). */
export async function measureColdStarts(cases: ColdCase[], runs: number, node = process.execPath): Promise<ColdStart[]> {
  const samples = cases.map(() => [] as number[]);
  const cpuSamples = cases.map(() => [] as number[]);
  const failures = cases.map(() => [] as string[]);
  const baseline: number[] = [];
  const cpuBaseline: number[] = [];
  const ownBaselines = cases.map(() => [] as number[]);
  const ownCpuBaselines = cases.map(() => [] as number[]);
  const root = mkdtempSync(join(tmpdir(), 'kfm-bench-cold-'));
  // A minimal environment for both: no NODE_OPTIONS, NODE_EXTRA_CA_CERTS or the like skewing either side.
  const base = { PATH: process.env.PATH, HOME: process.env.HOME, AWS_EC2_METADATA_DISABLED: 'true' };
  try {
    for (let round = 0; round < runs; round++) {
      for (const [index, c] of cases.entries()) {
        if (c.baseline) {
          const own = await timed(node, c.baseline, base);
          ownBaselines[index]!.push(own.ms);
          ownCpuBaselines[index]!.push(own.cpuMs);
          if (own.error) failures[index]!.push(`baseline: ${own.error}`);
        } else {
          baseline.push((await timed(node, ['-e', '0'], base)).ms);
          cpuBaseline.push((await timed(node, ['-e', CPU_REPORT], base)).cpuMs);
        }
        const target = c.env ?? { KFM_TARGET: `dir:${join(root, `${index}-${round}`)}`, KFM_OFFLINE: 'true' }; // fresh: same work every run
        const env = { ...base, ...BENCH_ENV, ...target };
        const event = c.event ? c.event(round + 1) : c.route === 'worker' ? workerBatch(round + 1) : httpEvent(c.route === 'intake' ? 'push' : c.route, round + 1);
        const result = await timed(node, [script, c.bundle, JSON.stringify(event)], env);
        samples[index]!.push(result.ms);
        cpuSamples[index]!.push(result.cpuMs);
        if (result.error) failures[index]!.push(result.error);
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const shared = median(baseline);
  const sharedCpu = median(cpuBaseline);
  return cases.map((c, index) => {
    const medianMs = median(samples[index]!);
    const baselineMs = c.baseline ? median(ownBaselines[index]!) : shared;
    const cpuMedian = median(cpuSamples[index]!);
    const cpuBase = c.baseline ? median(ownCpuBaselines[index]!) : sharedCpu;
    return { name: c.name, medianMs, baselineMs, ratio: medianMs / baselineMs, cpu: { medianMs: cpuMedian, baselineMs: cpuBase, ratio: cpuMedian / cpuBase }, failures: failures[index]! };
  });
}
