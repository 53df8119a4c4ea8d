// A local HTTPS stand-in for an EKS API server, for the worker's cold start on
// the EKS path (bench/queue-figures.ts): the test certificate of
// test/support/tls (the cluster CA the worker is given as KFM_EKS_CA), GET of
// one preset object (the deployer's state) and 404 for every other read, and any
// write (POST, PATCH) answered 200/201 with its own body and a resourceVersion.
// Stateless on purpose: every cold start finds the same objects and does the
// same work. It records each request (method, path, content type, body size),
// so the minimal script it is compared with (bench/eks-io-baseline.cjs) can do
// exactly the same I/O.
// Does NOT model: authentication (the token is recorded, not checked), storage,
// resourceVersion preconditions (no 409), server-side apply's merge, anything
// but the core/v1 and apps/v1 object paths.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

const TLS = join(import.meta.dirname, '..', 'test', 'support', 'tls');
export const CERT_FILE = join(TLS, 'server-cert.pem');

export interface RecordedRequest { method: string; path: string; contentType?: string; body: string; authorization: string }

export interface EksStandIn {
  endpoint: string;
  /** The server certificate (PEM): KFM_EKS_CA, base64-encoded. */
  cert: string;
  readonly requests: RecordedRequest[];
  stop(): Promise<void>;
}

/** `objects`: API path → the object a GET answers (200); any other GET is a 404. */
export async function startEksStandIn(objects: Record<string, object>): Promise<EksStandIn> {
  const cert = readFileSync(CERT_FILE, 'utf8');
  const requests: RecordedRequest[] = [];
  let version = 1000;
  const server = createServer({ cert, key: readFileSync(join(TLS, 'server-key.pem'), 'utf8') }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      const path = (req.url ?? '').split('?')[0]!;
      requests.push({ method: req.method ?? '', path: req.url ?? '', contentType: req.headers['content-type'], body, authorization: String(req.headers.authorization ?? '') });
      const json = (status: number, value: unknown) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      if (req.method === 'GET') {
        const found = objects[path];
        return found ? json(200, found) : json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 });
      }
      if (req.method === 'POST' || req.method === 'PATCH') {
        let sent: { metadata?: Record<string, unknown> } = {};
        try {
          sent = JSON.parse(body) as typeof sent;
        } catch {
          return json(415, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'UnsupportedMediaType', code: 415 });
        }
        version += 1;
        return json(req.method === 'POST' ? 201 : 200, { ...sent, metadata: { ...sent.metadata, resourceVersion: String(version), uid: 'stand-in' } });
      }
      return json(405, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'MethodNotAllowed', code: 405 });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
    cert,
    requests,
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
