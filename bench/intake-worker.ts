// Issue 10's warm figures, in their own process (from source, via tsx; the
// bundles' cold starts are cold-start.ts's):
// - intake's answer, warm: the intake handler called as Lambda calls it, with a
//   no-op CommandQueue, so the figure is intake's own work (authenticate, bound,
//   parse, validate, make the command) and not a queue's; also behind the local
//   HTTP server (what a registry on the same machine would wait for);
// - push→patch through the queue, in process: intake's call with the in-process
//   queue and worker of the embedded default (src/app/local-runtime.ts) on a
//   directory target, until the queue has drained; each push's Deployment file
//   is then checked for its digest.
// Writes its figures as JSON to argv[2].
// Usage: node --import tsx bench/intake-worker.ts <out.json> <answers> <pushes>
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Context } from 'aws-lambda';
import { createIntakeHandler } from '../handlers/intake.js';
import { createLocalRuntime } from '../src/app/local-runtime.js';
import { startLocalServer } from '../src/local/server.js';
import { loadSettings } from '../src/settings/settings.js';
import { createLogger } from '../src/log.js';
import type { CommandQueue } from '../src/queue/port.js';
import { BENCH_ENV, digestFor, distributionPush, httpEvent, pushHeaders } from './events.js';

const [out = '', answerCount = '1000', pushCount = '200'] = process.argv.slice(2);
const answers = Number(answerCount);
const pushes = Number(pushCount);
const WARM_UP = 50;

const context = { awsRequestId: 'bench', functionName: 'bench', getRemainingTimeInMillis: () => 30_000 } as unknown as Context;
const logger = createLogger(() => undefined);
const dir = await mkdtemp(join(tmpdir(), 'kfm-bench-intake-'));
const failures: string[] = [];
let stop = async () => {};
try {
  const settings = loadSettings({ ...BENCH_ENV, KFM_TARGET: `dir:${dir}`, KFM_OFFLINE: 'true' });

  // 1. The answer: a no-op queue.
  let sent = 0;
  const noop: CommandQueue = { description: 'no-op', send: async () => void (sent += 1) };
  const intake = createIntakeHandler(settings, { queue: noop, logger });
  const direct: number[] = [];
  for (let n = 1; n <= answers + WARM_UP; n++) {
    const event = httpEvent('push', n);
    const start = performance.now();
    const answer = (await intake(event as never, context)) as { statusCode: number; body: string };
    const end = performance.now();
    if (answer.statusCode !== 202 || !JSON.parse(answer.body).accepted) failures.push(`answer ${n}: ${answer.statusCode} ${answer.body.slice(0, 200)}`);
    if (n > WARM_UP) direct.push(end - start);
  }
  if (sent !== answers + WARM_UP) failures.push(`the no-op queue got ${sent} commands for ${answers + WARM_UP} pushes`);
  const server = await startLocalServer({ intake, status: async () => ({ statusCode: 404, body: '{}' }) });
  stop = server.stop;
  const overHttp: number[] = [];
  for (let n = 1; n <= answers + WARM_UP; n++) {
    const start = performance.now();
    const response = await fetch(`${server.url}/webhooks/registry/distribution`, { method: 'POST', body: distributionPush(n), headers: pushHeaders });
    await response.text();
    const end = performance.now();
    if (response.status !== 202) failures.push(`HTTP answer ${n}: ${response.status}`);
    if (n > WARM_UP) overHttp.push(end - start);
  }
  await server.stop();
  stop = async () => {};

  // 2. push→patch through the in-process queue and worker.
  const runtime = createLocalRuntime(settings, logger);
  const local = createIntakeHandler(settings, { queue: runtime.queue, logger });
  const config = (await local(httpEvent('config', 0) as never, context)) as { statusCode: number };
  await runtime.queue.drain();
  if (config.statusCode !== 202) failures.push(`config: ${config.statusCode}`);
  const deploymentFile = join(dir, 'kubeflow', 'deployment-kubeflow-metadata.yaml');
  const patched: number[] = [];
  for (let n = 1; n <= pushes + 3; n++) {
    const start = performance.now();
    const answer = (await local(httpEvent('push', n) as never, context)) as { statusCode: number };
    await runtime.queue.drain();
    const end = performance.now();
    const written = await readFile(deploymentFile, 'utf8').catch(() => '');
    if (answer.statusCode !== 202 || !written.includes(digestFor(n))) failures.push(`push ${n}: ${answer.statusCode}, the Deployment file does not name ${digestFor(n)}`);
    if (n > 3) patched.push(end - start); // warm-up: the first steps load the directory target and js-yaml
  }
  await writeFile(out, JSON.stringify({ direct, overHttp, patched, failures }));
} finally {
  await stop();
  await rm(dir, { recursive: true, force: true });
}
