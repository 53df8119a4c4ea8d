// ECR token reuse, in its own process: the worker function (from source, so
// aws-sdk-client-mock replaces the very ECRClient the code imports) receives
// `count` ECR EventBridge events with distinct digests, 10 at a time, for an
// ECR-hosted KFM_IMAGE, each as a direct invocation (a batch of one, as the
// EventBridge rule's message reaches it through the queue). Manifest lookups
// are answered by a stub fetch that checks the ECR password arrived. Writes its
// figures as JSON to argv[2].
// Usage: node --import tsx bench/ecr-worker.ts <out.json> <count>
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ECRClient, GetAuthorizationTokenCommand } from '@aws-sdk/client-ecr';
import { mockClient } from 'aws-sdk-client-mock';
import { configBody, CREDENTIALS, digestFor } from './events.js';
import { inBatches } from './stats.js';

const [out = '', countText = '1000'] = process.argv.slice(2);
const count = Number(countText);
const HOST = '123456789012.dkr.ecr.eu-west-1.amazonaws.com';
const PASSWORD = 'bench-ecr-password';
const stdout = process.stdout.write.bind(process.stdout);
process.stdout.write = (() => true) as typeof process.stdout.write; // the handler's log lines

const ecr = mockClient(ECRClient);
ecr.on(GetAuthorizationTokenCommand).resolves({
  authorizationData: [{ authorizationToken: Buffer.from(`AWS:${PASSWORD}`).toString('base64'), expiresAt: new Date(Date.now() + 12 * 3600_000), proxyEndpoint: `https://${HOST}` }],
});
const expected = `Basic ${Buffer.from(`AWS:${PASSWORD}`).toString('base64')}`;
let lookups = 0;
let unauthenticated = 0;
globalThis.fetch = (async (input: string | URL | Request, init?: RequestInit) => {
  const url = new URL(input instanceof Request ? input.url : input);
  // By digest (the events) or by tag (the config change's fetch of the tracked tag).
  const match = /^\/v2\/kubeflow\/metadata\/manifests\/(sha256:[0-9a-f]{64}|v0\.1\.9)$/.exec(url.pathname);
  if (url.host !== HOST || init?.method !== 'HEAD' || !match) throw new TypeError(`bench: unexpected request ${init?.method} ${url.href}`);
  lookups++;
  if ((init.headers as Record<string, string>).authorization !== expected) unauthenticated++;
  return new Response(null, { status: 200, headers: { 'docker-content-digest': match[1] === 'v0.1.9' ? digestFor(0) : (match[1] as string), 'content-type': 'application/vnd.oci.image.manifest.v1+json' } });
}) as typeof fetch;

const dir = await mkdtemp(join(tmpdir(), 'kfm-bench-ecr-'));
try {
  Object.assign(process.env, { KFM_TARGET: `dir:${dir}`, KFM_OFFLINE: 'false', ...CREDENTIALS, KFM_IMAGE: `${HOST}/kubeflow/metadata:v0.1.9`, AWS_REGION: 'eu-west-1' });
  const [{ createWorkerHandler }, { lazyDeployer }, { loadSettings }, { createLogger }] = await Promise.all([
    import('../handlers/worker.js'), import('../src/app/runtime.js'), import('../src/settings/settings.js'), import('../src/log.js'),
  ]);
  // The steps' outcomes from the worker's own `step done` log lines (its answer is the batch's failures only).
  const steps = new Map<string, string>();
  const logger = createLogger((line) => {
    const entry = JSON.parse(line) as { message: string; id?: string; outcome?: string; status?: { state: string }; reason?: string };
    if (entry.message === 'step done' && entry.id) steps.set(entry.id, entry.outcome === 'applied' ? entry.status?.state ?? 'applied' : `${entry.outcome}: ${entry.reason}`);
  });
  const settings = loadSettings(process.env);
  const handler = createWorkerHandler(settings, { deployer: lazyDeployer(settings, logger), logger });
  const context = { getRemainingTimeInMillis: () => 30_000 };
  const config = { kind: 'config', id: 'config-bench', receivedAt: new Date().toISOString(), mysql: JSON.parse(configBody()).relations.mysql };
  const configured = await handler({ Records: [{ messageId: 'config', body: JSON.stringify({ ...config, mysql: { user: 'root', ...config.mysql } }), attributes: { ApproximateReceiveCount: '1' } }] }, context);
  if (configured.batchItemFailures.length) throw new Error(`the config step failed: ${steps.get('config-bench')}`);
  // Not reset: the config step resolved the tracked tag with the token the push steps reuse (one worker, as on Lambda).
  [lookups, unauthenticated] = [0, 0];
  const event = (n: number) => ({
    version: '0', id: `bench-${n}`, 'detail-type': 'ECR Image Action', source: 'aws.ecr', account: '123456789012',
    time: new Date(Date.parse('2026-01-01T00:00:00Z') + n * 1000).toISOString(), region: 'eu-west-1', resources: [],
    detail: { result: 'SUCCESS', 'repository-name': 'kubeflow/metadata', 'image-digest': digestFor(n), 'action-type': 'PUSH', 'image-tag': 'v0.1.9' },
  });
  const outcomes = new Map<string, number>();
  await inBatches(Array.from({ length: count }, (_, i) => i + 1), 10, async (n) => {
    let key: string | undefined;
    try {
      const answer = await handler(event(n), context);
      if (answer.batchItemFailures.length) key = 'failed for a retry';
    } catch (error) {
      key = `threw: ${(error as Error).message.slice(0, 120)}`;
    }
    if (key) outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  });
  steps.delete('config-bench');
  for (const outcome of steps.values()) outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
  const calls = ecr.commandCalls(GetAuthorizationTokenCommand).length;
  await writeFile(out, JSON.stringify({ events: count, calls, lookups, unauthenticated, outcomes: Object.fromEntries(outcomes) }));
} finally {
  await rm(dir, { recursive: true, force: true });
  process.stdout.write = stdout;
}
