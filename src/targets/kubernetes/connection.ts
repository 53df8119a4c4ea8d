// Where the cluster is and how to authenticate, in order: EKS token auth when
// KFM_EKS_CLUSTER is set (Lambda has no kubeconfig), else a kubeconfig file
// (KUBECONFIG or ~/.kube/config), else the in-cluster service account. Every
// heavy module is imported lazily so that the directory target never loads them.
// KubeConfig comes from client-node's config module, not its index: the index
// drags in the generated API and models (3+ MB bundled) that the target does not use.
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { TargetError } from '../../errors.js';
import type { Settings } from '../../settings/settings.js';
import type { AwsCredentials } from './eks-token.js';

/** EKS tokens live 15 minutes; a fresh one is made after 10 so none expires mid-request. */
export const EKS_TOKEN_REFRESH_MS = 10 * 60_000;
const EKS_USER = 'kfm-eks';

export interface ClusterInfo {
  endpoint: string;
  /** Base64 PEM, as DescribeCluster and kubeconfig's certificate-authority-data carry it. */
  caData: string;
}

export interface KubeConfigOptions {
  settings: Pick<Settings, 'eks'>;
  env?: Record<string, string | undefined>;
  /** AWS credentials for EKS tokens; default: the SDK's default provider chain (the Lambda role). */
  credentials?: AwsCredentials | (() => Promise<AwsCredentials>);
  /** Cluster lookup when endpoint or CA is not configured; default: eks:DescribeCluster. */
  describeCluster?: (cluster: string, region: string) => Promise<ClusterInfo>;
  /** Clock in ms (tests advance it to see the token refreshed). */
  now?: () => number;
}

export async function createKubeConfig(options: KubeConfigOptions): Promise<KubeConfig> {
  const env = options.env ?? process.env;
  const { KubeConfig } = await import('@kubernetes/client-node/dist/config.js');
  const kc = new KubeConfig();
  const eks = options.settings.eks;
  if (eks) {
    const region = eks.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION;
    if (!region) throw new TargetError('EKS target needs a region: set AWS_REGION');
    let { endpoint, caData } = eks;
    if (!endpoint || !caData) {
      const found = await (options.describeCluster ?? describeCluster)(eks.cluster, region);
      endpoint ??= found.endpoint;
      caData ??= found.caData;
    }
    kc.loadFromClusterAndUser({ name: eks.cluster, server: endpoint, caData, skipTLSVerify: false }, { name: EKS_USER });
    kc.addAuthenticator(eksAuthenticator(eks.cluster, region, options));
    return kc;
  }
  const files = (env.KUBECONFIG ?? '').split(delimiter).filter(Boolean);
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  if (files.length > 1) {
    kc.loadFromDefault(); // merging several files is client-node's job (it reads process.env.KUBECONFIG)
  } else if (files[0] !== undefined || existsSync(home)) {
    kc.loadFromFile(files[0] ?? home);
  } else if (env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromCluster();
  } else {
    // client-node would fall back to http://localhost:8080: say what is missing instead.
    throw new TargetError('no cluster configured: set KUBECONFIG, run in a cluster, or set KFM_EKS_CLUSTER');
  }
  if (!kc.getCurrentCluster()) throw new TargetError('the kubeconfig has no current context/cluster');
  return kc;
}

/** Adds `Authorization: Bearer <EKS token>` to every request, minting a new token when the old one ages. */
function eksAuthenticator(cluster: string, region: string, options: KubeConfigOptions) {
  const now = options.now ?? Date.now;
  let current: { token: Promise<string>; at: number } | undefined;
  const credentials = options.credentials ?? lazyDefaultCredentials();
  const token = (): Promise<string> => {
    if (!current || now() - current.at >= EKS_TOKEN_REFRESH_MS) {
      const at = now();
      // Imported here: the signer's @smithy modules cost ~20 ms to load, paid only when a token is made.
      const minted = import('./eks-token.js').then(({ createEksToken }) => createEksToken({ cluster, region, credentials, now: new Date(at) }));
      current = { token: minted, at };
      // A failed mint must not be cached: the next request tries again.
      minted.catch(() => {
        if (current?.token === minted) current = undefined;
      });
    }
    return current.token;
  };
  return {
    isAuthProvider: (user: { name: string }) => user.name === EKS_USER,
    applyAuthentication: async (_user: unknown, opts: { headers?: Record<string, unknown> }) => {
      opts.headers = { ...opts.headers, Authorization: `Bearer ${await token()}` };
    },
  };
}

function lazyDefaultCredentials(): () => Promise<AwsCredentials> {
  let provider: (() => Promise<AwsCredentials>) | undefined;
  return async () => {
    provider ??= (await import('@aws-sdk/credential-provider-node')).defaultProvider();
    return provider();
  };
}

async function describeCluster(cluster: string, region: string): Promise<ClusterInfo> {
  const { EKSClient, DescribeClusterCommand } = await import('@aws-sdk/client-eks');
  const client = new EKSClient({ region });
  try {
    const { cluster: found } = await client.send(new DescribeClusterCommand({ name: cluster }));
    const endpoint = found?.endpoint;
    const caData = found?.certificateAuthority?.data;
    if (!endpoint || !caData) throw new TargetError(`EKS cluster ${cluster} has no endpoint or CA yet (status ${found?.status ?? 'unknown'})`);
    return { endpoint, caData };
  } catch (error) {
    if (error instanceof TargetError) throw error;
    throw new TargetError(`eks:DescribeCluster ${cluster} failed: ${(error as Error).name}: ${(error as Error).message}`);
  } finally {
    client.destroy();
  }
}
