// npm start: the main job on the embedded default. Sample events (a config
// change with MySQL relation data, then a registry push) go through the real
// handlers into the local directory target, offline, and what happened is printed.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createDirectoryTarget } from '../src/targets/directory.js';

process.env.KFM_TARGET ??= 'dir:.kfm';
process.env.KFM_OFFLINE ??= 'true';
process.env.KFM_WEBHOOK_SECRET ??= 'local-dev-secret-0123456789'; // the secret the sample events carry

const { loadSettings } = await import('../src/settings/settings.js');
const settings = loadSettings();
const handlers = {
  config: (await import('../handlers/config.js')).handler,
  push: (await import('../handlers/push.js')).handler,
  status: (await import('../handlers/status.js')).handler,
};
const context = { getRemainingTimeInMillis: () => 30_000 } as never;
const print = (line = '') => process.stdout.write(`${line}\n`);
const quiet = process.stdout.write.bind(process.stdout);

async function invoke(name: keyof typeof handlers, file: string) {
  const event = JSON.parse(await readFile(file, 'utf8'));
  // The handlers log JSON lines; keep the demo's own output readable.
  process.stdout.write = (() => true) as never;
  try {
    return (await handlers[name](event, context)) as { statusCode: number; body: string };
  } finally {
    process.stdout.write = quiet;
  }
}

function describe(title: string, result: { statusCode: number; body: string }) {
  const body = JSON.parse(result.body);
  print(`▸ ${title}: HTTP ${result.statusCode}`);
  if (body.status) print(`  status   ${body.status.state} "${body.status.message}"`);
  for (const step of body.statusHistory ?? []) print(`    · ${step.state} "${step.message}"`);
  if (body.flags) print(`  flags    ${body.flags.join(', ')}`);
  for (const [name, reason] of Object.entries(body.failures ?? {})) print(`  ${name} not fetched: ${reason}`);
  for (const change of body.changes ?? []) print(`  ${change.outcome.padEnd(9)} ${change.kind}/${change.name}`);
  if (body.ignored?.length) print(`  ignored  ${Array.isArray(body.ignored) ? body.ignored.join('; ') : body.ignored}`);
  print();
}

print(`kubeflow-metadata-deployer — main job on ${settings.target.kind === 'dir' ? `dir:${settings.target.path}` : 'kubernetes'}, namespace ${settings.namespace}, image ${settings.image.registry}/${settings.image.repository}:${settings.image.tag}\n`);
describe('config change with MySQL relation data (events/config.json)', await invoke('config', 'events/config.json'));
describe('registry push, CNCF distribution format (events/push-distribution.json)', await invoke('push', 'events/push-distribution.json'));
const status = JSON.parse((await invoke('status', 'events/status.json')).body);
print(`▸ GET /status: ${status.status.state} "${status.status.message}"`);
print(`  oci-image ${status.resources['oci-image']?.registryPath ?? '(not fetched)'}`);

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
if (settings.offline) {
  print('\nSkipped offline: the registry lookup (credentials and digest). The first event found no digest to');
  print('trust, so the layer reported "unable to fetch resource: oci-image"; the push carried one, taken as is.');
  print('For real: KFM_OFFLINE=false npm start (needs the registry of KFM_IMAGE), or npm run serve and point');
  print('your registry\'s webhook at it; KFM_TARGET=kubernetes applies to the cluster of your kubeconfig.');
}
