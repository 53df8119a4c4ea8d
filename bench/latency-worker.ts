// One latency run in its own process (the handlers read their env when first
// required): the BUNDLED handlers behind the local HTTP server, against a temp
// directory target (offline) or the Kubernetes double (with the real registry
// for the digest lookups), each behind a timing proxy. Writes its figures as
// JSON to argv[3]. Usage: node --import tsx bench/latency-worker.ts <dir|kube> <out.json> <pushes> <duplicates>
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalServer } from '../src/local/server.js';
import { startKubeDouble, type KubeDouble } from '../test/support/kube-double.js';
import { pushImage, startRegistry, type TestRegistry } from '../test/support/registry.js';
import { configBody, configHeaders, distributionPush, pushHeaders, REPOSITORY, SECRET, TAG } from './events.js';
import { inBatches } from './stats.js';
import { startTimingProxy, type TimingProxy } from './timing-proxy.js';

const [mode = 'dir', out = '', pushCount = '100', duplicateCount = '1000'] = process.argv.slice(2);
const pushes = Number(pushCount);
const duplicates = Number(duplicateCount);
const dist = join(import.meta.dirname, '..', 'dist');
const stdout = process.stdout.write.bind(process.stdout);
process.stdout.write = (() => true) as typeof process.stdout.write; // the handlers' log lines

const dir = await mkdtemp(join(tmpdir(), 'kfm-bench-latency-'));
let double: KubeDouble | undefined;
let registry: TestRegistry | undefined;
const proxies: TimingProxy[] = [];
let stopServer = async () => {};
try {
  const env: Record<string, string> = { KFM_WEBHOOK_SECRET: SECRET, AWS_EC2_METADATA_DISABLED: 'true' };
  const digests: string[] = [];
  if (mode === 'kube') {
    registry = await startRegistry({ auth: false });
    double = await startKubeDouble();
    proxies.push(await startTimingProxy(double.url), await startTimingProxy(registry.url));
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(kubeconfig, double.kubeconfig().replace(double.url, proxies[0]!.url));
    const registryHost = new URL(proxies[1]!.url).host;
    Object.assign(env, { KFM_TARGET: 'kubernetes', KUBECONFIG: kubeconfig, KFM_IMAGE: `${registryHost}/${REPOSITORY}:${TAG}` });
    for (let n = 0; n < pushes + 10; n++) digests.push(await pushImage(registry, { repository: REPOSITORY, mediaType: 'oci' }));
  } else {
    Object.assign(env, { KFM_TARGET: `dir:${dir}`, KFM_OFFLINE: 'true' });
  }
  Object.assign(process.env, env);
  const load = createRequire(import.meta.url);
  const handler = (name: string) => (load(join(dist, `${name}.cjs`)) as { handler: (e: unknown, c: unknown) => Promise<unknown> }).handler;
  const server = await startLocalServer({ push: handler('push'), config: handler('config'), status: handler('status') });
  stopServer = server.stop;
  const post = async (path: string, body: string, headers: Record<string, string>) => {
    const response = await fetch(`${server.url}${path}`, { method: 'POST', body, headers });
    return { status: response.status, json: (await response.json()) as { changes?: Array<{ kind: string; outcome: string }>; error?: string } };
  };
  const pushBody = (n: number) => distributionPush(n, digests[n]);

  const config = await post('/webhooks/config', configBody(), configHeaders);
  if (config.status !== 200) throw new Error(`config answered ${config.status}: ${JSON.stringify(config.json)}`);
  const failures: string[] = [];
  const totals: number[] = [];
  const overheads: number[] = [];
  for (let n = 1; n <= pushes + 3; n++) {
    const start = performance.now();
    const answer = await post('/webhooks/registry/distribution', pushBody(n), pushHeaders);
    const end = performance.now();
    const patched = answer.json.changes?.some((c) => c.kind === 'Deployment' && c.outcome !== 'unchanged');
    if (answer.status !== 200 || !patched) failures.push(`push ${n}: ${answer.status} ${JSON.stringify(answer.json).slice(0, 200)}`);
    if (n <= 3) continue; // warm-up: the first events load the lazy chunks and open connections
    totals.push(end - start);
    overheads.push(end - start - proxies.reduce((sum, proxy) => sum + proxy.busyWithin(start, end), 0));
  }

  // Duplicates: writes counted from the answers (the target's acknowledged outcomes) and, on the
  // double, from its request log. 1) A push applied once, then delivered `duplicates` times more;
  // 2) a new push delivered `duplicates` times from the start. Both 10 deliveries at a time.
  type Answer = Awaited<ReturnType<typeof post>>;
  const deliver = (n: number) => post('/webhooks/registry/distribution', pushBody(n), pushHeaders);
  const written = (answers: Answer[], kind?: string) =>
    answers.flatMap((a) => a.json.changes ?? []).filter((c) => c.outcome !== 'unchanged' && (!kind || c.kind === kind)).length;
  const statuses = (answers: Answer[]) => [...new Set(answers.map((a) => a.status))].sort();
  const log = double?.requests;
  const logged = (from: number, path = '') => (log ? log.slice(from).filter((r) => r.method !== 'GET' && r.path.includes(path)).length : undefined);
  const run = async (n: number, times: number) => {
    const mark = log?.length ?? 0;
    const answers = await inBatches(Array.from({ length: times }, () => n), 10, deliver);
    return { statuses: statuses(answers), writes: written(answers), deploymentWrites: written(answers, 'Deployment'), logged: logged(mark), loggedDeployment: logged(mark, '/deployments') };
  };
  const first = await run(pushes + 5, 1);
  const again = await run(pushes + 5, duplicates);
  const racing = await run(pushes + 6, duplicates);
  const result = { mode, totals, overheads, failures, duplicates: { first, again, racing } };
  await writeFile(out, JSON.stringify(result));
} finally {
  await stopServer();
  for (const proxy of proxies) await proxy.stop();
  await double?.stop();
  await registry?.stop();
  await rm(dir, { recursive: true, force: true });
  process.stdout.write = stdout;
}
