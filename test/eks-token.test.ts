// The EKS token is checked against an independent SigV4 computation with
// node:crypto (canonical request → string to sign → derived key), so a
// signing mistake fails here rather than as a 401 from a real cluster.
import { createHash, createHmac } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TargetError } from '../src/errors.js';
import { createKubeConfig } from '../src/targets/kubernetes/connection.js';
import { EKS_TOKEN_REFRESH_MS } from '../src/targets/kubernetes/eks.js';
import { createEksToken } from '../src/targets/kubernetes/eks-token.js';
import { requestOptions } from '../src/targets/kubernetes/transport.js';

const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const now = new Date('2024-01-02T03:04:05Z');

function decode(token: string): URL {
  expect(token.startsWith('k8s-aws-v1.')).toBe(true);
  const body = token.slice('k8s-aws-v1.'.length);
  expect(body).toMatch(/^[A-Za-z0-9_-]+$/); // base64url, no padding
  return new URL(Buffer.from(body, 'base64url').toString('utf8'));
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest('hex');
const hmac = (key: string | Buffer, text: string) => createHmac('sha256', key).update(text, 'utf8').digest();
const rfc3986 = (text: string) => encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/** SigV4 for a presigned GET, written from the AWS documentation. */
function expectedSignature(url: URL, cluster: string, region: string, secret: string): string {
  const params = [...url.searchParams.entries()].filter(([k]) => k !== 'X-Amz-Signature');
  const canonicalQuery = params.map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`).sort().join('&');
  const canonicalRequest = [
    'GET', '/', canonicalQuery, `host:${url.host}`, `x-k8s-aws-id:${cluster}`, '', 'host;x-k8s-aws-id', sha256(''),
  ].join('\n');
  const amzDate = url.searchParams.get('X-Amz-Date') ?? '';
  const day = amzDate.slice(0, 8);
  const scope = `${day}/${region}/sts/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(hmac(`AWS4${secret}`, day), region), 'sts'), 'aws4_request');
  return createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
}

test('token is a presigned STS GetCallerIdentity URL with the exact SigV4 query', async () => {
  const url = decode(await createEksToken({ cluster: 'kubeflow', region: 'us-west-2', credentials, now }));
  expect(url.origin).toBe('https://sts.us-west-2.amazonaws.com');
  expect(url.pathname).toBe('/');
  const q = Object.fromEntries(url.searchParams.entries());
  expect(q).toEqual({
    Action: 'GetCallerIdentity',
    Version: '2011-06-15',
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': 'AKIDEXAMPLE/20240102/us-west-2/sts/aws4_request',
    'X-Amz-Date': '20240102T030405Z',
    'X-Amz-Expires': '60',
    'X-Amz-SignedHeaders': 'host;x-k8s-aws-id',
    'X-Amz-Signature': expect.stringMatching(/^[0-9a-f]{64}$/),
  });
  expect(q['X-Amz-Signature']).toBe(expectedSignature(url, 'kubeflow', 'us-west-2', credentials.secretAccessKey));
});

test('session credentials are carried and signed; the cluster name is part of the signature', async () => {
  const session = async () => ({ ...credentials, sessionToken: 'FwoGZXIvYXdzE+/token==' });
  const url = decode(await createEksToken({ cluster: 'kubeflow', region: 'eu-central-1', credentials: session, now }));
  expect(url.searchParams.get('X-Amz-Security-Token')).toBe('FwoGZXIvYXdzE+/token==');
  const signature = url.searchParams.get('X-Amz-Signature');
  expect(signature).toBe(expectedSignature(url, 'kubeflow', 'eu-central-1', credentials.secretAccessKey));
  expect(signature).not.toBe(expectedSignature(url, 'other-cluster', 'eu-central-1', credentials.secretAccessKey));
  const other = decode(await createEksToken({ cluster: 'other', region: 'eu-central-1', credentials: session, now }));
  expect(other.searchParams.get('X-Amz-Signature')).not.toBe(signature);
});

test('China regions sign for the amazonaws.com.cn STS host', async () => {
  const url = decode(await createEksToken({ cluster: 'c', region: 'cn-north-1', credentials, now }));
  expect(url.host).toBe('sts.cn-north-1.amazonaws.com.cn');
  expect(url.searchParams.get('X-Amz-Signature')).toBe(expectedSignature(url, 'c', 'cn-north-1', credentials.secretAccessKey));
});

describe('createKubeConfig', () => {
  // The headers the Kubernetes target's transport sends.
  const authorization = async (kc: Awaited<ReturnType<typeof createKubeConfig>>) => {
    const { headers } = await requestOptions(kc, { method: 'GET' });
    return (headers as Record<string, string>).Authorization ?? '';
  };

  test('EKS: endpoint and CA from DescribeCluster when not configured; token refreshed after 10 minutes', async () => {
    let clock = now.getTime();
    const described: string[] = [];
    const kc = await createKubeConfig({
      settings: { eks: { cluster: 'kubeflow', region: 'us-west-2' } },
      env: {},
      credentials,
      now: () => clock,
      describeCluster: async (cluster, region) => {
        described.push(`${cluster}@${region}`);
        return { endpoint: 'https://ABC.gr7.us-west-2.eks.amazonaws.com', caData: Buffer.from('pem').toString('base64') };
      },
    });
    expect(described).toEqual(['kubeflow@us-west-2']);
    expect(kc.getCurrentCluster()).toMatchObject({ server: 'https://ABC.gr7.us-west-2.eks.amazonaws.com', skipTLSVerify: false });
    expect(String((await requestOptions(kc, { method: 'GET' })).ca)).toBe('pem'); // TLS verified against the cluster CA
    const first = await authorization(kc);
    expect(first).toMatch(/^Bearer k8s-aws-v1\./);
    const url = decode(first.slice('Bearer '.length));
    expect(url.searchParams.get('X-Amz-Date')).toBe('20240102T030405Z');
    clock += EKS_TOKEN_REFRESH_MS - 1;
    expect(await authorization(kc)).toBe(first);
    clock += 1;
    const second = await authorization(kc);
    expect(second).not.toBe(first);
    expect(decode(second.slice('Bearer '.length)).searchParams.get('X-Amz-Date')).toBe('20240102T031405Z');
  });

  test('EKS: configured endpoint and CA need no DescribeCluster; a region is required', async () => {
    let described = 0;
    const describeCluster = async () => {
      described++;
      return { endpoint: 'https://wrong', caData: 'd3Jvbmc=' };
    };
    const eks = { cluster: 'kubeflow', endpoint: 'https://x.eks.amazonaws.com', caData: 'cGVt', region: 'us-east-1' };
    const kc = await createKubeConfig({ settings: { eks }, env: {}, credentials, describeCluster });
    expect(described).toBe(0);
    expect(kc.getCurrentCluster()?.caData).toBe('cGVt');
    await expect(createKubeConfig({ settings: { eks: { ...eks, region: undefined } }, env: {}, credentials }))
      .rejects.toThrow(/AWS_REGION/);
  });

  test('KUBECONFIG file, else in-cluster, else a clear error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kubeconfig-'));
    try {
      const file = join(dir, 'config');
      writeFileSync(file, 'apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters: [{name: c, cluster: {server: "https://k.example:6443"}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: c, context: {cluster: c, user: u}}]\n');
      const fromFile = await createKubeConfig({ settings: {}, env: { KUBECONFIG: file } });
      expect(fromFile.getCurrentCluster()?.server).toBe('https://k.example:6443');
      const inCluster = await createKubeConfig({ settings: {}, env: { KUBERNETES_SERVICE_HOST: '10.0.0.1', HOME: dir } });
      expect(inCluster.getCurrentCluster()?.name).toBe('inCluster');
      await expect(createKubeConfig({ settings: {}, env: { HOME: dir } })).rejects.toThrow(TargetError);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
