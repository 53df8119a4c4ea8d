// Settings → the Kubernetes adapters: the connection (kubeconfig, in-cluster or
// EKS), the target, the rollout observer and the Event recorder, all on that one
// connection. Imported lazily by the runtime.
import type { Settings } from '../settings/settings.js';
import type { Logger } from '../log.js';
import type { Target } from '../targets/port.js';
import type { RolloutObserver } from '../rollout/port.js';
import type { EventRecorder } from '../record/events.js';
import { createKubeConfig } from '../targets/kubernetes/connection.js';
import { createKubernetesTarget } from '../targets/kubernetes/target.js';
import { createRolloutObserver } from '../rollout/observer.js';
import { createEventRecorder } from '../record/events.js';

export interface KubernetesAdapters {
  target: Target;
  observer: RolloutObserver;
  events: EventRecorder;
}

export async function createKubernetesAdaptersFromSettings(settings: Settings, logger?: Logger): Promise<KubernetesAdapters> {
  const kubeConfig = await createKubeConfig({ settings });
  return {
    target: createKubernetesTarget({ kubeConfig, namespace: settings.namespace }),
    observer: createRolloutObserver({ kubeConfig, namespace: settings.namespace, app: settings.app, intervalMs: settings.rollout.checkIntervalMs }),
    events: createEventRecorder({
      kubeConfig, namespace: settings.namespace, deployment: settings.app, logger,
      reportingInstance: `kubeflow-metadata-deployer/${settings.namespace}/${settings.app}`,
    }),
  };
}
