// A local HTTPS stand-in for the AWS APIs and the Kubernetes API server the EKS
// path talks to: EKS DescribeCluster (`GET /clusters/<name>`), ECR
// GetAuthorizationToken, and any Kubernetes read (404: nothing stored yet). It
// uses the test-only certificate in test/support/tls: the SDK trusts it through
// NODE_EXTRA_CA_CERTS (see `awsEnv`), the Kubernetes target as the cluster CA.
// Does NOT model: signature checks (requests are recorded, not verified), any
// other AWS action, Kubernetes writes, errors or throttling.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

export const CERT_FILE = join(import.meta.dirname, 'tls', 'server-cert.pem');
const KEY_FILE = join(import.meta.dirname, 'tls', 'server-key.pem');
export const ECR_PASSWORD = 'stand-in-ecr-password';

export interface AwsStandIn {
  endpoint: string;
  /** The server certificate (PEM): the cluster CA for the EKS path. */
  cert: string;
  requests: Array<{ path: string; authorization: string }>;
  /** Environment that points the SDK at the stand-in (AWS_ENDPOINT_URL_<SERVICE>) and trusts it. */
  awsEnv(): Record<string, string>;
  stop(): Promise<void>;
}

export async function startAwsStandIn(cluster = 'kfm-test'): Promise<AwsStandIn> {
  const cert = readFileSync(CERT_FILE, 'utf8');
  const requests: AwsStandIn['requests'] = [];
  let endpoint = '';
  const server = createServer({ cert, key: readFileSync(KEY_FILE, 'utf8') }, (req, res) => {
    requests.push({ path: req.url ?? '', authorization: String(req.headers.authorization ?? '') });
    const json = (status: number, body: unknown, type = 'application/json') => res.writeHead(status, { 'content-type': type }).end(JSON.stringify(body));
    req.resume().on('end', () => {
      if (req.url === `/clusters/${cluster}`) {
        return json(200, { cluster: { name: cluster, endpoint, status: 'ACTIVE', certificateAuthority: { data: Buffer.from(cert).toString('base64') } } });
      }
      if (String(req.headers['x-amz-target']).endsWith('.GetAuthorizationToken')) {
        const token = Buffer.from(`AWS:${ECR_PASSWORD}`).toString('base64');
        return json(200, { authorizationData: [{ authorizationToken: token, expiresAt: Date.now() / 1000 + 43200, proxyEndpoint: endpoint }] }, 'application/x-amz-json-1.1');
      }
      return json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    cert,
    requests,
    awsEnv: () => ({ AWS_ENDPOINT_URL_EKS: endpoint, AWS_ENDPOINT_URL_ECR: endpoint, NODE_EXTRA_CA_CERTS: CERT_FILE }),
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
