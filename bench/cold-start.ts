// Cold init: fresh `node` processes that require a bundle and run one
// invocation, timed from spawn to exit, alternated with `node -e 0` so both
// share the machine's noise. The figure is the ratio of the medians.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { httpEvent, SECRET } from './events.js';
import { median } from './stats.js';

export interface ColdCase {
  name: string;
  bundle: string;
  route: 'push' | 'config' | 'status';
  /** Replaces the temp `dir:` target (e.g. the Kubernetes target). */
  env?: Record<string, string>;
}

export interface ColdStart {
  name: string;
  medianMs: number;
  baselineMs: number;
  ratio: number;
  failures: string[];
}

const script = join(import.meta.dirname, 'cold-invoke.cjs');

/** Spawn → exit, asynchronously (a peer such as the Kubernetes double may live in this process). */
function timed(node: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ ms: number; error?: string }> {
  return new Promise((resolve) => {
    const start = process.hrtime.bigint();
    const child = spawn(node, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => void (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      resolve(code === 0 ? { ms } : { ms, error: (stderr || `exit ${code ?? signal}`).slice(0, 300) });
    });
  });
}

/** `node`: the binary for both sides (default: this one). */
export async function measureColdStarts(cases: ColdCase[], runs: number, node = process.execPath): Promise<ColdStart[]> {
  const samples = cases.map(() => [] as number[]);
  const failures = cases.map(() => [] as string[]);
  const baseline: number[] = [];
  const root = mkdtempSync(join(tmpdir(), 'kfm-bench-cold-'));
  // A minimal environment for both: no NODE_OPTIONS, NODE_EXTRA_CA_CERTS or the like skewing either side.
  const base = { PATH: process.env.PATH, HOME: process.env.HOME, AWS_EC2_METADATA_DISABLED: 'true' };
  try {
    for (let round = 0; round < runs; round++) {
      for (const [index, c] of cases.entries()) {
        baseline.push((await timed(node, ['-e', '0'], base)).ms);
        const target = c.env ?? { KFM_TARGET: `dir:${join(root, `${index}-${round}`)}`, KFM_OFFLINE: 'true' }; // fresh: same work every run
        const env = { ...base, KFM_WEBHOOK_SECRET: SECRET, ...target };
        const result = await timed(node, [script, c.bundle, JSON.stringify(httpEvent(c.route, round + 1))], env);
        samples[index]!.push(result.ms);
        if (result.error) failures[index]!.push(result.error);
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  const baselineMs = median(baseline);
  return cases.map((c, index) => {
    const medianMs = median(samples[index]!);
    return { name: c.name, medianMs, baselineMs, ratio: medianMs / baselineMs, failures: failures[index]! };
  });
}
