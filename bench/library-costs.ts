// What each library on intake's cold path costs a cold start (issue 12: "the cold-start cost of these
// libraries is measured in the bench"): for each, a tiny entry doing what intake does with it once
// (import, build, one call), bundled with the project's own esbuild settings (esbuild.options.cjs's
// base: minified, node22, cjs; its plugins, so zod's locales are left out as in the handlers), run in
// fresh `node` processes alternated with an empty script bundled the same way. Each process reports
// its own CPU time (user + system, all threads, from its start to its exit: process.cpuUsage()), which
// a busy machine disturbs far less than wall time; the figure is the difference of the medians: what
// that library alone adds to a process. The libraries share code
// (Powertools' commons, node:crypto), so the costs do not add up to a handler's; they say where a
// cold start's milliseconds go, and which libraries are worth a lazy path.
import { build, type Plugin } from 'esbuild';
import { createRequire } from 'node:module';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CPU_REPORT, timed } from './cold-start.js';
import { median } from './stats.js';

const root = join(import.meta.dirname, '..');

export interface LibraryCase {
  name: string;
  /** An ES module's source, resolved from the repository root. */
  source: string;
}

/** What intake does with each of its libraries on a cold start, once. */
export const LIBRARIES: LibraryCase[] = [
  { name: 'node:crypto (createHash, timingSafeEqual: authentication)', source: `import { createHash, timingSafeEqual } from 'node:crypto';
const d = (t) => createHash('sha256').update(t).digest(); timingSafeEqual(d('a'), d('b'));` },
  { name: 'zod/mini (configured, one object schema built and parsed)', source: `import * as z from 'zod/mini'; import en from 'zod/v4/locales/en.js';
z.config({ ...en(), jitless: true });
z.strictObject({ a: z.string().check(z.minLength(1)), b: z.optional(z.number()) }).safeParse({ a: 'x', b: 1 });` },
  { name: 'Powertools Logger (one instance, one JSON line to stdout)', source: `import { Logger } from '@aws-lambda-powertools/logger';
new Logger({ serviceName: 'bench' }).info('bench', { id: 'x' });` },
  { name: 'Powertools Metrics (one instance, its ColdStart line and one EMF line to stdout)', source: `import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
const m = new Metrics({ namespace: 'Bench', serviceName: 'bench', defaultDimensions: { function: 'intake' } });
m.captureColdStartMetric('bench'); m.addMetric('Accepted', MetricUnit.Count, 1); m.publishStoredMetrics();` },
  { name: '@middy/core + http-header-normalizer (a stack, one call)', source: `import middy from '@middy/core'; import normalizer from '@middy/http-header-normalizer';
await middy().use(normalizer()).handler(async () => ({ statusCode: 200 }))({ headers: { 'Content-Type': 'x' } }, {});` },
  { name: 'process.stdout, two JSON lines (the log line and the EMF line: I/O any intake does)', source: `process.stdout.write(JSON.stringify({ level: 'INFO' }) + '\\n'); process.stdout.write(JSON.stringify({ _aws: {} }) + '\\n');` },
  { name: "String.prototype.localeCompare's first call (ICU's collator; no longer on intake's path)", source: `'a'.localeCompare('b');` },
];

export interface LibraryCost {
  name: string;
  /** Median CPU time of the case minus that of the empty script, ms. */
  addedMs: number;
  /** The empty script's median CPU time, ms. */
  baselineMs: number;
  failures: number;
}


/** Bundles each case and the empty script, then `runs` alternated rounds of fresh processes. */
export async function measureLibraryCosts(runs: number, cases: LibraryCase[] = LIBRARIES, node = process.execPath): Promise<LibraryCost[]> {
  const options = createRequire(import.meta.url)(join(root, 'esbuild.options.cjs')) as Record<string, unknown>;
  // The base settings and the plugins that shape dependencies (zod's locales, middy's streams); not the
  // chunk plugin, which would put Metrics into a file of its own (its cost is measured either way).
  const plugins = (options.plugins as Plugin[]).filter((p) => p.name === 'kfm-without-zod-locales' || p.name === 'kfm-middy-streams-on-use');
  const dir = mkdtempSync(join(tmpdir(), 'kfm-bench-libs-'));
  try {
    const entries = [{ name: 'empty', source: '' }, ...cases];
    const files = await Promise.all(entries.map(async ({ source }, index) => {
      const outfile = join(dir, `case-${index}.cjs`);
      await build({
        ...options, plugins, absWorkingDir: root, outfile, logLevel: 'error',
        // Top-level await (middy's call) is ESM-only: each case runs inside an async function. Every case
        // ends with CPU_REPORT: its process's CPU time from start to exit, on fd 3.
        stdin: { contents: `${source.split('\n').filter((line) => line.startsWith('import ')).join('\n')}\n${CPU_REPORT};\n(async () => {\n${source.split('\n').filter((line) => !line.startsWith('import ')).join('\n')}\n})();`, resolveDir: root, loader: 'js', sourcefile: `case-${index}.mjs` },
      });
      return outfile;
    }));
    // A Lambda cold start, as far as Powertools looks: the function's name, an on-demand initialization.
    const env = { PATH: process.env.PATH, HOME: process.env.HOME, AWS_LAMBDA_FUNCTION_NAME: 'kfm-bench', AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand' };
    const samples = entries.map(() => [] as number[]);
    const failures = entries.map(() => 0);
    for (let round = 0; round < runs; round++) {
      for (const [index, file] of files.entries()) {
        const { cpuMs, error } = await timed(node, [file], env);
        samples[index]!.push(cpuMs);
        if (error !== undefined || Number.isNaN(cpuMs)) failures[index]! += 1;
      }
    }
    const baselineMs = median(samples[0]!);
    return cases.map((c, index) => ({ name: c.name, addedMs: median(samples[index + 1]!) - baselineMs, baselineMs, failures: failures[index + 1]! }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
