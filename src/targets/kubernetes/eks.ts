// EKS token authentication for the Kubernetes target, in its own lazy chunk: the
// AWS SDK (signer, credential chain, DescribeCluster) is loaded only when
// KFM_EKS_CLUSTER is set, never for a kubeconfig or in-cluster connection.
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { TargetError } from '../../errors.js';
import { createEksToken, type AwsCredentials } from './eks-token.js';

/** EKS tokens live 15 minutes; a fresh one is made after 10 so none expires mid-request. */
export const EKS_TOKEN_REFRESH_MS = 10 * 60_000;
const EKS_USER = 'kfm-eks';

export interface ClusterInfo {
  endpoint: string;
  /** Base64 PEM, as DescribeCluster and kubeconfig's certificate-authority-data carry it. */
  caData: string;
}

export interface EksOptions {
  /** AWS credentials for EKS tokens; default: the SDK's default provider chain (the Lambda role). */
  credentials?: AwsCredentials | (() => Promise<AwsCredentials>);
  /** Cluster lookup when endpoint or CA is not configured; default: eks:DescribeCluster. */
  describeCluster?: (cluster: string, region: string) => Promise<ClusterInfo>;
  /** Clock in ms (tests advance it to see the token refreshed). */
  now?: () => number;
}

export interface EksCluster {
  cluster: string;
  region?: string;
  endpoint?: string;
  caData?: string;
}

/** Points `kc` at the EKS cluster and authenticates every request with an EKS token. */
export async function connectEks(kc: KubeConfig, eks: EksCluster, options: EksOptions): Promise<void> {
  const { region } = eks;
  if (!region) throw new TargetError('EKS target needs a region: set AWS_REGION');
  let { endpoint, caData } = eks;
  if (!endpoint || !caData) {
    const found = await (options.describeCluster ?? describeCluster)(eks.cluster, region);
    endpoint ??= found.endpoint;
    caData ??= found.caData;
  }
  kc.loadFromClusterAndUser({ name: eks.cluster, server: endpoint, caData, skipTLSVerify: false }, { name: EKS_USER });
  kc.addAuthenticator(eksAuthenticator(eks.cluster, region, options));
}

/** Adds `Authorization: Bearer <EKS token>` to every request, minting a new token when the old one ages. */
function eksAuthenticator(cluster: string, region: string, options: EksOptions) {
  const now = options.now ?? Date.now;
  let current: { token: Promise<string>; at: number } | undefined;
  const credentials = options.credentials ?? lazyDefaultCredentials();
  const token = (): Promise<string> => {
    if (!current || now() - current.at >= EKS_TOKEN_REFRESH_MS) {
      const at = now();
      const minted = createEksToken({ cluster, region, credentials, now: new Date(at) });
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

/**
 * The function's own credentials. On Lambda the role's are in the environment, where the env provider
 * (a few KB) finds them; the rest of the default chain (SSO, INI files, process, web identity, IMDS:
 * ~400 KB of SDK) is loaded only when the environment has none.
 */
function lazyDefaultCredentials(): () => Promise<AwsCredentials> {
  let chain: (() => Promise<AwsCredentials>) | undefined;
  return async () => {
    const { fromEnv } = await import('@aws-sdk/credential-provider-env');
    try {
      return await fromEnv()();
    } catch {
      chain ??= (await import('@aws-sdk/credential-provider-node')).defaultProvider();
      return chain();
    }
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
