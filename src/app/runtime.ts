// Wiring from settings to adapters, done once per cold start and lazily, so a
// function pays for client-node or the AWS SDK only when it uses them.
import type { Settings } from '../settings/settings.js';
import type { Logger } from '../log.js';
import type { Target } from '../targets/port.js';
import type { ResourceFetcher } from '../resource/port.js';
import { createDirectoryTarget } from '../targets/directory.js';
import { createOfflineFetcher } from '../resource/offline-fetcher.js';
import { createRegistryFetcher } from '../resource/registry-fetcher.js';
import { createCredentialProvider } from '../resource/credentials/chain.js';
import { createDeployer, type Deployer } from './deployer.js';

export interface RuntimeOverrides {
  target?: Target;
  fetcher?: ResourceFetcher;
}

/** Milliseconds left in the current invocation; the Kubernetes target's retries stay inside it. */
export type Deadline = () => number;

async function createTarget(settings: Settings, deadline: Deadline): Promise<Target> {
  if (settings.target.kind === 'dir') return createDirectoryTarget({ path: settings.target.path, namespace: settings.namespace });
  const { createKubernetesTargetFromSettings } = await import('../targets/kubernetes/from-settings.js');
  return createKubernetesTargetFromSettings(settings, deadline);
}

function createFetcher(settings: Settings): ResourceFetcher {
  if (settings.offline) return createOfflineFetcher();
  return createRegistryFetcher({ credentials: createCredentialProvider({ registryAuth: settings.registryAuth }) });
}

/** The deployer for these settings, created on first use and kept for the warm function. */
export function lazyDeployer(settings: Settings, logger: Logger, overrides: RuntimeOverrides = {}) {
  let deployer: Promise<Deployer> | undefined;
  let remaining: Deadline = () => 60_000;
  async function build(): Promise<Deployer> {
    const target = overrides.target ?? (await createTarget(settings, () => remaining()));
    return createDeployer({
      app: settings.app,
      namespace: settings.namespace,
      image: settings.image,
      tagPolicy: settings.tagPolicy,
      setStatus: settings.setStatus,
      target,
      fetcher: overrides.fetcher ?? createFetcher(settings),
      logger,
      deadline: () => remaining(),
    });
  }
  return function getDeployer(deadline?: Deadline): Promise<Deployer> {
    if (deadline) remaining = deadline;
    deployer ??= build().catch((error: unknown) => {
      deployer = undefined; // a failed connection is retried by the next event
      throw error;
    });
    return deployer;
  };
}
