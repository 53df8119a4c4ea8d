// Settings → Kubernetes target: the connection (kubeconfig, in-cluster or EKS)
// and the target bound to the invocation's deadline. Imported lazily by the runtime.
import type { Settings } from '../../settings/settings.js';
import type { Target } from '../port.js';
import { createKubeConfig } from './connection.js';
import { createKubernetesTarget } from './target.js';

export async function createKubernetesTargetFromSettings(settings: Settings): Promise<Target> {
  const kubeConfig = await createKubeConfig({ settings });
  return createKubernetesTarget({ kubeConfig, namespace: settings.namespace });
}
