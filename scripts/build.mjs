// npm run build: the three handlers bundled the way serverless-esbuild bundles
// them (the same esbuild.options.cjs), into dist/<name>.cjs, with each bundle's
// size. The bench (bench/run.ts) measures these files.
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import { readdir, rm, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const options = createRequire(import.meta.url)(join(root, 'esbuild.options.cjs'));
export const HANDLERS = ['intake', 'worker', 'status'];
export const outdir = join(root, 'dist');

/**
 * Builds every handler into `into` (default dist/); returns `[{ name, file, bytes }]` for the bundles
 * and the chunk files beside them.
 */
export async function buildHandlers({ quiet = false, into = outdir } = {}) {
  await rm(into, { recursive: true, force: true });
  await build({
    ...options,
    absWorkingDir: root,
    entryPoints: HANDLERS.map((name) => ({ in: join(root, 'handlers', `${name}.ts`), out: name })),
    outdir: into,
    logLevel: quiet ? 'error' : 'warning',
  });
  const files = [];
  for (const entry of (await readdir(into, { recursive: true })).sort()) {
    const file = join(into, entry);
    const info = await stat(file);
    if (info.isFile()) files.push({ name: entry, file, bytes: info.size });
  }
  return files;
}

const kib = (bytes) => `${(bytes / 1024).toFixed(1)} KiB`;

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const json = process.argv.includes('--json'); // for bench/run.ts
  const at = process.argv.indexOf('--into'); // another folder than dist/ (test/bundles.test.ts)
  const files = await buildHandlers({ quiet: json, ...(at > 0 ? { into: resolve(process.argv[at + 1]) } : {}) });
  if (json) console.log(JSON.stringify(files));
  else for (const { file, bytes } of files) console.log(`${relative(root, file).padEnd(28)} ${kib(bytes).padStart(12)}`);
}
