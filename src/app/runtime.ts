// Wiring from settings to adapters, once per process and lazily, so a function
// pays for client-node, the registry client or the AWS SDK only when it uses them.
// Intake needs only the queue; the worker needs the deployer; status, the target alone.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Settings } from '../settings/settings.js';
import type { Logger } from '../log.js';
import type { Target } from '../targets/port.js';
import type { ResourceFetcher } from '../resource/port.js';
import type { CommandQueue, QueueRecord } from '../queue/port.js';
import { createDeployer, type Deployer, type StepReport } from './deployer.js';
import { createAnnouncer } from './rollout-step.js';
import { readStatus, type StatusSource } from './view.js';
import { workloadNames } from '../render/names.js';
import type { RolloutObserver } from '../rollout/port.js';
import type { EventRecorder } from '../record/events.js';

export interface RuntimeOverrides {
  target?: Target;
  fetcher?: ResourceFetcher;
}

/** The target, and on Kubernetes the rollout observer and Event recorder on the same connection. */
interface TargetAdapters {
  target: Target;
  observer?: RolloutObserver;
  events?: EventRecorder;
}

/** Milliseconds left in the current invocation; passed per call, so the target's retries stay inside it. */
export type Deadline = () => number;

async function createTarget(settings: Settings, logger: Logger): Promise<TargetAdapters> {
  if (settings.target.kind === 'dir') {
    const { createDirectoryTarget } = await import('../targets/directory.js');
    return { target: createDirectoryTarget({ path: settings.target.path, namespace: settings.namespace }) };
  }
  const { createKubernetesAdaptersFromSettings } = await import('./kubernetes-adapters.js');
  return createKubernetesAdaptersFromSettings(settings, logger);
}

/** The verdicts' channels (KFM_NOTIFY_*); none when nothing is set. */
async function createNotifier(settings: Settings, logger: Logger) {
  const { slackUrl, webhookUrl, webhookSecret } = settings.notify;
  if (!slackUrl && !webhookUrl) return undefined;
  const [{ fanOut }, { createSlackNotifier }, { createWebhookNotifier }] = await Promise.all([
    import('../notify/port.js'), import('../notify/slack.js'), import('../notify/webhook.js'),
  ]);
  return fanOut([
    ...(slackUrl ? [createSlackNotifier({ url: slackUrl, logger })] : []),
    ...(webhookUrl && webhookSecret ? [createWebhookNotifier({ url: webhookUrl, secret: webhookSecret, logger })] : []),
  ]);
}

async function createFetcher(settings: Settings): Promise<ResourceFetcher> {
  if (settings.offline) return (await import('../resource/offline-fetcher.js')).createOfflineFetcher();
  const [{ createRegistryFetcher }, { createCredentialProvider }] = await Promise.all([
    import('../resource/registry-fetcher.js'), import('../resource/credentials/chain.js'),
  ]);
  // ECR tokens must outlive the next scheduled refresh (src/resource/credentials/ecr.ts).
  return createRegistryFetcher({ credentials: createCredentialProvider({ registryAuth: settings.registryAuth, ecr: { refreshHours: settings.refreshHours } }) });
}

/** The deployer for these settings, created on first use and kept for the warm function. */
export function lazyDeployer(settings: Settings, logger: Logger, overrides: RuntimeOverrides = {}) {
  let deployer: Promise<Deployer> | undefined;
  async function build(): Promise<Deployer> {
    const [adapters, fetcher, notifier] = await Promise.all([
      overrides.target ? { target: overrides.target } : createTarget(settings, logger),
      overrides.fetcher ?? createFetcher(settings),
      createNotifier(settings, logger),
    ]);
    const { target, observer, events } = adapters as TargetAdapters;
    const announcer = createAnnouncer({ namespace: settings.namespace, app: settings.app, events, notifier, logger });
    return createDeployer({
      app: settings.app, namespace: settings.namespace, image: settings.image, tagPolicy: settings.tagPolicy,
      setStatus: settings.setStatus, pod: settings.pod, target, fetcher, logger, observer, revert: settings.rollout.revert, announcer,
    });
  }
  return function getDeployer(): Promise<Deployer> {
    deployer ??= build().catch((error: unknown) => {
      deployer = undefined; // a failed connection is retried by the next event
      throw error;
    });
    return deployer;
  };
}

/**
 * GET /status's own source: the target and the state ConfigMap, created on first use; no registry
 * client, notifier or deployer (the status function reads, it never steps).
 */
export function lazyStatusSource(settings: Settings, logger: Logger): () => Promise<StatusSource> {
  let source: Promise<StatusSource> | undefined;
  const stateName = workloadNames(settings.app).state;
  return function getStatusSource(): Promise<StatusSource> {
    source ??= createTarget(settings, logger).then(
      ({ target }) => ({ status: (deadline?: () => number) => readStatus(target, stateName, [], deadline) }),
      (error: unknown) => {
        source = undefined; // a failed connection is retried by the next request
        throw error;
      },
    );
    return source;
  };
}

/**
 * The deployer of the process's local runtime for these settings (src/app/local-runtime.ts registers it),
 * if one runs here: GET /status then reads through it, and shows the outcomes its in-process worker holds.
 * Looked up here, not in local-runtime.ts, so that a status function alone in its process (a Lambda, or
 * `npm run invoke -- status`) need not load the in-process queue, worker and their deployer to learn that
 * none runs.
 */
const localDeployers = new WeakMap<Settings, () => Promise<StatusSource>>();
export const localDeployerOf = (settings: Settings) => localDeployers.get(settings);
export const registerLocalDeployer = (settings: Settings, deployer: () => Promise<StatusSource>): void =>
  void localDeployers.set(settings, deployer);

/** The message group of a workload: one cluster's app is applied one step at a time. */
export const workloadGroup = (settings: Pick<Settings, 'namespace' | 'app'>): string => `${settings.namespace}/${settings.app}`;

/** Where the in-process queue puts dead letters: `<dir>/dead-letter/` of the directory target, else `.kfm/dead-letter/`. */
export function deadLetterDir(settings: Settings): string {
  return join(settings.target.kind === 'dir' ? settings.target.path : '.kfm', 'dead-letter');
}

/** A dead letter as a file; a config's MySQL password never reaches the disk outside a Secret. */
export function writeDeadLetter(dir: string, record: QueueRecord): void {
  let body: unknown = record.body;
  try {
    body = JSON.parse(record.body, (key, value: unknown) => (key === 'password' ? '[redacted]' : value));
  } catch {
    body = '[not JSON]';
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const name = `${record.messageId.replace(/[^A-Za-z0-9-]/g, '_')}.json`;
  writeFileSync(join(dir, name), `${JSON.stringify({ messageId: record.messageId, attributes: record.attributes, body }, null, 2)}\n`, { mode: 0o600 });
}

/** The SQS adapter, built on the first send (the SDK's client costs cold start). */
export function lazySqsQueue(queueUrl: string, region?: string): CommandQueue {
  let queue: Promise<CommandQueue> | undefined;
  const build = async () => {
    const [{ SQSClient }, { createSqsQueue }] = await Promise.all([import('@aws-sdk/client-sqs'), import('../queue/sqs.js')]);
    return createSqsQueue({ client: new SQSClient(region ? { region } : {}), queueUrl });
  };
  return {
    description: `sqs:${queueUrl}`,
    async send(message) {
      queue ??= build().catch((error: unknown) => {
        queue = undefined;
        throw error;
      });
      return (await queue).send(message);
    },
  };
}

export type ReportListener = (report: StepReport) => void;
