// EKS bearer tokens, made the way aws-iam-authenticator (and `aws eks get-token`)
// makes them: a SigV4-presigned STS GetCallerIdentity URL that also signs the
// `x-k8s-aws-id: <cluster>` header, so a token for one cluster is useless on
// another. EKS calls STS with it to learn the caller's IAM identity.
import { Hash } from '@smithy/hash-node';
import { SignatureV4 } from '@smithy/signature-v4';

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

export interface EksTokenOptions {
  cluster: string;
  region: string;
  credentials: AwsCredentials | (() => Promise<AwsCredentials>);
  /** Signing time (tests pin it). */
  now?: Date;
}

export const EKS_TOKEN_PREFIX = 'k8s-aws-v1.';
/** Tokens are accepted for 15 minutes after signing (EKS's rule, whatever X-Amz-Expires says). */
export const EKS_TOKEN_LIFETIME_MS = 15 * 60_000;

/** The STS host for a region (China regions live under amazonaws.com.cn). */
export const stsHost = (region: string): string =>
  `sts.${region}.amazonaws.com${region.startsWith('cn-') ? '.cn' : ''}`;

// RFC 3986 unreserved characters only, as SigV4's canonical query encoding wants.
const encode = (text: string): string =>
  encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export async function createEksToken({ cluster, region, credentials, now }: EksTokenOptions): Promise<string> {
  const hostname = stsHost(region);
  // node:crypto's HMAC (the SDK's own Node hash), not a JavaScript SHA-256: the worker loads node:crypto
  // for TLS anyway, and interpreting sha256-js cost a cold start ~2 ms.
  const signer = new SignatureV4({ credentials, region, service: 'sts', sha256: Hash.bind(null, 'sha256') });
  const signed = await signer.presign(
    {
      method: 'GET',
      protocol: 'https:',
      hostname,
      path: '/',
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host: hostname, 'x-k8s-aws-id': cluster },
    },
    { expiresIn: 60, signingDate: now ?? new Date() },
  );
  const query = Object.entries(signed.query ?? {})
    .flatMap(([key, value]) => (value === null ? [] : Array.isArray(value) ? value : [value]).map((v) => `${encode(key)}=${encode(String(v))}`))
    .sort()
    .join('&');
  const url = `https://${hostname}/?${query}`;
  return EKS_TOKEN_PREFIX + Buffer.from(url, 'utf8').toString('base64url');
}
