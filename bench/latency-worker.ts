// One latency run in its own process: intake, its in-process queue and the
// worker behind the local HTTP server (as `npm run serve`), against a temp
// directory target (offline) or a REAL Kubernetes API server (test/support/
// control-plane.ts, as the RBAC-bound deployer, with the real registry for the
// digest lookups), each peer behind a timing proxy (for the API server: the
// fault proxy, injecting nothing); on the API server push→patch ends when the
// Deployment write is acknowledged. Mode kube-step times the worker's step alone
// (createDeployer(...).run, warm) against the same real peers. Write requests
// are counted from the API server's audit log. Writes its figures as JSON to
// argv[3]. Usage: node --import tsx bench/latency-worker.ts <dir|kube|kube-step> <out.json> <pushes> <duplicates>
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLocalServer } from '../src/local/server.js';
import { loadSettings } from '../src/settings/settings.js';
import { createLocalRuntime } from '../src/app/local-runtime.js';
import type { StepReport } from '../src/app/deployer.js';
import { createIntakeHandler } from '../handlers/intake.js';
import { createStatusHandler } from '../handlers/status.js';
import { startControlPlane, type ControlPlane } from '../test/support/control-plane.js';
import { startFaultProxy } from '../test/support/fault-proxy.js';
import { pushImage, startRegistry, type TestRegistry } from '../test/support/registry.js';
import { BENCH_ENV, configBody, configHeaders, distributionPush, pushHeaders, REPOSITORY, TAG } from './events.js';
import { inBatches } from './stats.js';
import { startTimingProxy } from './timing-proxy.js';
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { createDeployer } from '../src/app/deployer.js';
import { createKubernetesTarget } from '../src/targets/kubernetes/target.js';
import type { Target } from '../src/targets/port.js';
import { createRegistryFetcher } from '../src/resource/registry-fetcher.js';
import { createCredentialProvider } from '../src/resource/credentials/chain.js';
import { parseImageRef } from '../src/image/reference.js';
import { parseTagPolicy } from '../src/policy/tag-policy.js';
import { createLogger } from '../src/log.js';

const [mode = 'dir', out = '', pushCount = '100', duplicateCount = '1000'] = process.argv.slice(2);
const pushes = Number(pushCount);
const duplicates = Number(duplicateCount);
const stdout = process.stdout.write.bind(process.stdout);
process.stdout.write = (() => true) as typeof process.stdout.write; // the handlers' log lines

const dir = await mkdtemp(join(tmpdir(), 'kfm-bench-latency-'));
let cp: ControlPlane | undefined;
let registry: TestRegistry | undefined;
const proxies: Array<{ url: string; busyWithin(from: number, to: number): number; stop(): Promise<void> }> = [];
let stopServer = async () => {};
try {
  const env: Record<string, string> = { ...BENCH_ENV, AWS_EC2_METADATA_DISABLED: 'true' };
  const digests: string[] = [];
  if (mode !== 'dir') {
    registry = await startRegistry({ auth: false });
    cp = await startControlPlane();
    await cp.applyDeployerRbac();
    const kubeProxy = await startFaultProxy({ upstream: cp.server, pki: cp.pki });
    proxies.push(kubeProxy, await startTimingProxy(registry.url));
    const kubeconfig = join(dir, 'kubeconfig');
    await writeFile(kubeconfig, kubeProxy.kubeconfig());
    const registryHost = new URL(proxies[1]!.url).host;
    Object.assign(env, { KFM_TARGET: 'kubernetes', KUBECONFIG: kubeconfig, KFM_IMAGE: `${registryHost}/${REPOSITORY}:${TAG}` });
    for (let n = 0; n < pushes + 10; n++) digests.push(await pushImage(registry, { repository: REPOSITORY, mediaType: 'oci' }));
  } else {
    Object.assign(env, { KFM_TARGET: `dir:${dir}`, KFM_OFFLINE: 'true' });
  }
  const result = mode === 'kube-step'
    ? { mode, ...(await stepLatency({ kubeconfig: env.KUBECONFIG!, image: env.KFM_IMAGE!, digests, pushes, proxies })) }
    : await handlerLatency(env, digests);
  await writeFile(out, JSON.stringify(result));
} finally {
  await stopServer();
  for (const proxy of proxies) await proxy.stop();
  await cp?.stop();
  await registry?.stop();
  await rm(dir, { recursive: true, force: true });
  process.stdout.write = stdout;
}

/**
 * Pushes through intake behind the local server, its in-process queue and the worker, wired as
 * `npm run serve` wires them (src/app/local-runtime.ts; from source: the bundles' cold starts are
 * measured by cold-start.ts): push→patch is the POST until the queue has drained with the Deployment
 * patched. Then the duplicate deliveries, through the same intake (the queue drops redeliveries of an
 * event id within its deduplication window, as SQS FIFO does).
 */
async function handlerLatency(env: Record<string, string>, digests: string[]) {
  Object.assign(process.env, env);
  const settings = loadSettings(env);
  const logger = createLogger(() => undefined);
  // On the API server: the Kubernetes target as the runtime builds it, but handed in, so its Deployment
  // write's acknowledgement is timed (push→patch ends there). Handed in, it comes without the rollout
  // observer: the step does not then follow the rollout it started (on this API server, with no kubelet,
  // it never completes: the step would wait its poll interval, KFM_ROLLOUT_CHECK_SECONDS, every push).
  let patchedAt: number | undefined;
  const timed = (target: Target): Target => ({
    description: target.description,
    read: (key, options) => target.read(key, options),
    async write(desired, live, options) {
      const outcome = await target.write(desired, live, options);
      if (desired.kind === 'Deployment') patchedAt = performance.now();
      return outcome;
    },
  });
  const kubeTarget = () => {
    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromFile(env.KUBECONFIG!);
    return timed(createKubernetesTarget({ kubeConfig, namespace: settings.namespace }));
  };
  const runtime = createLocalRuntime(settings, logger, settings.target.kind === 'kubernetes' ? { target: kubeTarget() } : {});
  const reports: StepReport[] = [];
  runtime.onReport((report) => void reports.push(report));
  const intake = createIntakeHandler(settings, { queue: runtime.queue, logger });
  const status = createStatusHandler(settings, { source: runtime.deployer, logger });
  const server = await startLocalServer({ intake, status });
  stopServer = server.stop;
  const post = async (path: string, body: string, headers: Record<string, string>) => {
    const response = await fetch(`${server.url}${path}`, { method: 'POST', body, headers });
    return { status: response.status, json: (await response.json()) as { accepted?: string; ignored?: string; error?: string } };
  };
  // The registry KFM_IMAGE names (the real one behind its timing proxy on the Kubernetes runs): intake ignores pushes from another.
  const imageRegistry = env.KFM_IMAGE!.slice(0, env.KFM_IMAGE!.indexOf('/'));
  const pushBody = (n: number) => distributionPush(n, digests[n], imageRegistry);
  const changesOf = (id: string | undefined) => reports.filter((r) => r.id === id).flatMap((r) => r.changes);

  const config = await post('/webhooks/config', configBody(), configHeaders);
  await runtime.queue.drain();
  if (config.status !== 202 || !changesOf(config.json.accepted).length) throw new Error(`config answered ${config.status}: ${JSON.stringify(config.json)}`);
  const failures: string[] = [];
  const totals: number[] = [];
  const overheads: number[] = [];
  for (let n = 1; n <= pushes + 3; n++) {
    patchedAt = undefined;
    const start = performance.now();
    const answer = await post('/webhooks/registry/distribution', pushBody(n), pushHeaders);
    await runtime.queue.drain();
    const end = patchedAt ?? performance.now(); // the Deployment write's acknowledgement (Kubernetes), else the drained queue
    const patched = changesOf(answer.json.accepted).some((c) => c.kind === 'Deployment' && c.outcome !== 'unchanged');
    if (answer.status !== 202 || !patched) failures.push(`push ${n}: ${answer.status} ${JSON.stringify(answer.json).slice(0, 200)} ${JSON.stringify(changesOf(answer.json.accepted))}`);
    if (n <= 3) continue; // warm-up: the first events load the lazy chunks and open connections
    totals.push(end - start);
    overheads.push(end - start - proxies.reduce((sum, proxy) => sum + proxy.busyWithin(start, end), 0));
  }

  // Duplicates: writes counted from the steps' reports (the target's acknowledged outcomes) and, on the
  // API server, from its audit log. 1) A push applied once, then delivered `duplicates` times more;
  // 2) a new push delivered `duplicates` times from the start. Both 10 deliveries at a time.
  type Answer = Awaited<ReturnType<typeof post>>;
  const deliver = (n: number) => post('/webhooks/registry/distribution', pushBody(n), pushHeaders);
  let reported = 0; // the reports of the run in progress start here
  const written = (_answers: Answer[], kind?: string) =>
    reports.slice(reported).flatMap((r) => r.changes).filter((c) => c.outcome !== 'unchanged' && (!kind || c.kind === kind)).length;
  const statuses = (answers: Answer[]) => [...new Set(answers.map((a) => a.status))].sort();
  // The API server's own count: the deployer's create/update/patch/delete requests in its audit log.
  const audited = async () => (cp ? await cp.writeRequests() : undefined);
  const run = async (n: number, times: number) => {
    const mark = (await audited())?.length ?? 0;
    reported = reports.length;
    const answers = await inBatches(Array.from({ length: times }, () => n), 10, deliver);
    await runtime.queue.drain();
    const writes = (await audited())?.slice(mark);
    return {
      statuses: statuses(answers), writes: written(answers), deploymentWrites: written(answers, 'Deployment'),
      logged: writes?.length, loggedDeployment: writes?.filter((e) => e.objectRef?.resource === 'deployments').length,
    };
  };
  const first = await run(pushes + 5, 1);
  const again = await run(pushes + 5, duplicates);
  const racing = await run(pushes + 6, duplicates);
  return { mode, totals, overheads, failures, duplicates: { first, again, racing } };
}

/**
 * The worker's step alone, warm, on the real API server and registry: a config step first (creates the
 * objects), 3 warm-up pushes, then `pushes` timed pushes, each a new digest that must patch the Deployment.
 * `overheads` subtract the time a request was with the API server or the registry.
 */
async function stepLatency(options: { kubeconfig: string; image: string; digests: string[]; pushes: number; proxies: typeof proxies }) {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(options.kubeconfig);
  const image = parseImageRef(options.image);
  const deployer = createDeployer({
    app: 'kubeflow-metadata', namespace: 'kubeflow', image, tagPolicy: parseTagPolicy('track', image.tag), setStatus: true,
    target: createKubernetesTarget({ kubeConfig, namespace: 'kubeflow' }),
    fetcher: createRegistryFetcher({ credentials: createCredentialProvider({}) }), logger: createLogger(() => undefined),
  });
  await deployer.run({ hook: 'config-changed', mysql: { host: 'mysql', port: 3306, user: 'root', password: 'bench-mysql-password' } });
  const [failures, totals, overheads]: [string[], number[], number[]] = [[], [], []];
  for (let n = 1; n <= options.pushes + 3; n++) {
    const pushedAt = new Date(Date.UTC(2026, 0, 1, 0, 0, 0, n)).toISOString();
    const start = performance.now();
    try {
      const report = await deployer.run({ hook: 'upgrade-charm', pushes: [{ provider: 'distribution', repository: image.repository, tag: image.tag, digest: options.digests[n], pushedAt }] });
      const end = performance.now();
      if (!report.changes.some((c) => c.kind === 'Deployment' && c.outcome !== 'unchanged')) failures.push(`push ${n}: ${JSON.stringify(report.changes)}`);
      if (n <= 3) continue; // warm-up: connections, lazy imports
      totals.push(end - start);
      overheads.push(end - start - options.proxies.reduce((sum, proxy) => sum + proxy.busyWithin(start, end), 0));
    } catch (error) {
      failures.push(`push ${n}: ${(error as Error).message}`);
    }
  }
  return { totals, overheads, failures };
}
