// npm start: the main job on the embedded default. Sample events (a config change with MySQL
// relation data, then a registry push) go through the real intake, the in-process queue and the
// real worker into the local directory target, offline, and what happened is printed.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createDirectoryTarget } from '../src/targets/directory.js';
import type { StepReport } from '../src/app/deployer.js';

process.env.KFM_TARGET ??= 'dir:.kfm';
process.env.KFM_OFFLINE ??= 'true';
// The credentials the sample events carry, one per power (push, Docker Hub and Quay URL tokens, config, status).
const credentials = JSON.parse(await readFile(new URL('../events/local-credentials.json', import.meta.url), 'utf8')) as Record<string, string>;
for (const [name, value] of Object.entries(credentials)) process.env[name] ??= value;

const { processDefaults } = await import('../src/app/process-defaults.js');
const { localRuntime } = await import('../src/app/local-runtime.js');
const { settings, logger } = processDefaults();
const runtime = localRuntime(settings, logger);
const handlers = { intake: (await import('../handlers/intake.js')).handler, status: (await import('../handlers/status.js')).handler };
const reports = new Map<string, StepReport>();
runtime.onReport((report) => reports.set(report.id, report));
const context = { getRemainingTimeInMillis: () => 30_000 } as never;
const print = (line = '') => process.stdout.write(`${line}\n`);
const quiet = process.stdout.write.bind(process.stdout);

/** One sample event through a handler, then through the queue and the worker. */
async function invoke(name: keyof typeof handlers, file: string) {
  const event = JSON.parse(await readFile(file, 'utf8'));
  // The handlers log JSON lines; keep the demo's own output readable.
  process.stdout.write = (() => true) as never;
  try {
    const answer = (await handlers[name](event, context)) as { statusCode: number; body: string };
    await runtime.queue.drain();
    return answer;
  } finally {
    process.stdout.write = quiet;
  }
}

function describe(title: string, answer: { statusCode: number; body: string }) {
  const body = JSON.parse(answer.body);
  print(`▸ ${title}: HTTP ${answer.statusCode} ${answer.body}`);
  const report = reports.get(body.accepted);
  if (!report) return print(body.ignored ? `  not queued: ${body.ignored}\n` : '');
  print(`  worker   ${report.outcome}${report.reason ? ` (${report.reason})` : ''}`);
  print(`  status   ${report.status.state} "${report.status.message}"`);
  for (const step of report.statusHistory) print(`    · ${step.state} "${step.message}"`);
  print(`  flags    ${report.flags.join(', ')}`);
  for (const [name, reason] of Object.entries(report.failures)) print(`  ${name} not fetched: ${reason}`);
  for (const change of report.changes) print(`  ${change.outcome.padEnd(9)} ${change.kind}/${change.name}`);
  if (report.ignored.length) print(`  ignored  ${report.ignored.join('; ')}`);
  print();
}

print(`kubeflow-metadata-deployer — main job on ${settings.target.kind === 'dir' ? `dir:${settings.target.path}` : 'kubernetes'}, namespace ${settings.namespace}, image ${settings.image.registry}/${settings.image.repository}:${settings.image.tag}, queue ${runtime.queue.description}\n`);
describe('config change with MySQL relation data (events/config.json)', await invoke('intake', 'events/config.json'));
describe('registry push, CNCF distribution format (events/push-distribution.json)', await invoke('intake', 'events/push-distribution.json'));
const status = JSON.parse((await invoke('status', 'events/status.json')).body);
print(`▸ GET /status: ${status.status.state} "${status.status.message}"`);
print(`  oci-image ${status.resources['oci-image']?.registryPath ?? '(not fetched)'}`);
for (const entry of status.recent) print(`  recent    ${entry.id} ${entry.trigger}: ${entry.outcome}${entry.reason ? ` (${entry.reason})` : ''}`);

if (settings.target.kind === 'dir') {
  const folder = join(settings.target.path, settings.namespace);
  print(`\nobjects in ${folder}/ (kubectl apply -f ${folder} reproduces them on a cluster):`);
  for (const file of (await readdir(folder)).sort()) print(`  ${file}`);
  const files = createDirectoryTarget({ path: settings.target.path, namespace: settings.namespace });
  const deployment = await files.read({ kind: 'Deployment', name: settings.app }) as { spec: { template: { spec: { containers: { image: string }[] } } } } | undefined;
  const service = await files.read({ kind: 'Service', name: settings.app }) as { spec: { ports: { port: number }[] } } | undefined;
  print(`  Deployment image  ${deployment?.spec.template.spec.containers[0]?.image ?? '(none)'}`);
  print(`  Service port      ${service?.spec.ports.map((port) => port.port).join(', ') ?? '(none)'}`);
}
print('\nThe webhooks were answered 202 at once; the in-process queue (the stand-in for SQS FIFO) fed the worker.');
if (settings.offline) {
  print('Skipped offline: the registry lookup (credentials and digest). The first event found no digest to');
  print('trust, so the layer reported "unable to fetch resource: oci-image"; the push carried one, taken as is.');
  print('For real: KFM_OFFLINE=false npm start (needs the registry of KFM_IMAGE), or npm run serve and point');
  print('your registry\'s webhook at it; KFM_TARGET=kubernetes applies to the cluster of your kubeconfig.');
}
