// `osls package` (and `osls print`) of this service in a scratch copy outside the repository: the
// files the package reads (serverless.yml, the esbuild config, handlers/, src/, the resolver) and a
// symlink to node_modules. osls writes `.serverless/` and serverless-esbuild `.esbuild/` into the
// service folder: in a copy, parallel runs (several engineers, several test files) cannot clobber
// each other, and everything under `.serverless/` is this run's own.
import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const root = join(import.meta.dirname, '..', '..');
const COPIED = ['serverless.yml', 'package.json', 'tsconfig.json', 'esbuild.config.cjs', 'esbuild.options.cjs', 'handlers', 'src', join('scripts', 'serverless-vars.cjs')];

export interface ScratchService {
  dir: string;
  /** Runs `osls <args>` there with exactly `env` (plus PATH and an empty HOME): stdout, stderr and the exit code. */
  osls(args: string[], env: Record<string, string>, timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }>;
  /** `.serverless/cloudformation-template-update-stack.json` after a package. */
  template(): Promise<any>;
  remove(): Promise<void>;
}

export async function scratchService(): Promise<ScratchService> {
  const dir = await mkdtemp(join(tmpdir(), 'kfm-osls-'));
  for (const entry of COPIED) await cp(join(root, entry), join(dir, entry), { recursive: true });
  await symlink(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const home = join(dir, '.home');
  return {
    dir,
    async osls(args, env, timeoutMs = 240_000) {
      try {
        const { stdout, stderr } = await run(join(root, 'node_modules', '.bin', 'osls'), args, {
          cwd: dir,
          timeout: timeoutMs,
          maxBuffer: 16 * 1024 * 1024,
          // Offline: no instance metadata, no credentials of the machine, no update checks or notifications.
          env: { PATH: process.env.PATH ?? '', HOME: home, AWS_EC2_METADATA_DISABLED: 'true', SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off', CI: '1', ...env },
        });
        return { code: 0, stdout, stderr };
      } catch (error) {
        const failed = error as { code?: number; stdout?: string; stderr?: string; killed?: boolean; message: string };
        if (failed.killed) throw new Error(`osls ${args.join(' ')} timed out after ${timeoutMs} ms: ${failed.stderr ?? ''}`);
        return { code: typeof failed.code === 'number' ? failed.code : 1, stdout: failed.stdout ?? '', stderr: failed.stderr ?? failed.message };
      }
    },
    template: async () => JSON.parse(await readFile(join(dir, '.serverless', 'cloudformation-template-update-stack.json'), 'utf8')),
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}
