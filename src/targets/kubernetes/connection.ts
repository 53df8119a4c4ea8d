// Where the cluster is and how to authenticate, in order: EKS token auth when
// KFM_EKS_CLUSTER is set (Lambda has no kubeconfig), else a kubeconfig file
// (KUBECONFIG or ~/.kube/config), else the in-cluster service account. Every
// heavy module is imported lazily so that the directory target never loads them,
// and a kubeconfig or in-cluster connection never loads the AWS SDK (eks.ts).
// KubeConfig comes from client-node's config module, not its index: the index
// drags in the generated API and models (3+ MB bundled) that the target does not use.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { TargetError } from '../../errors.js';
import type { Settings } from '../../settings/settings.js';
import type { EksOptions } from './eks.js';

export interface KubeConfigOptions extends EksOptions {
  settings: Pick<Settings, 'eks'>;
  env?: Record<string, string | undefined>;
  /** Prepended to the pod's /var/run/secrets/kubernetes.io/serviceaccount paths (client-node's own seam), for tests. */
  inClusterPathPrefix?: string;
}

export async function createKubeConfig(options: KubeConfigOptions): Promise<KubeConfig> {
  const env = options.env ?? process.env;
  const { KubeConfig } = await import('@kubernetes/client-node/dist/config.js');
  const kc = new KubeConfig();
  const eks = options.settings.eks;
  if (eks) {
    const { connectEks } = await import('./eks.js');
    await connectEks(kc, { ...eks, region: eks.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION }, options);
    return kc;
  }
  const files = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  if (files.length > 1) {
    kc.loadFromDefault(); // merging several files is client-node's job (it reads process.env.KUBECONFIG)
  } else if (files[0] !== undefined || existsSync(home)) {
    kc.loadFromFile(files[0] ?? home);
  } else if (env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromCluster(options.inClusterPathPrefix);
  } else {
    // client-node would fall back to http://localhost:8080: say what is missing instead.
    throw new TargetError('no cluster configured: set KUBECONFIG, run in a cluster, or set KFM_EKS_CLUSTER');
  }
  if (!kc.getCurrentCluster()) throw new TargetError('the kubeconfig has no current context/cluster');
  return kc;
}
