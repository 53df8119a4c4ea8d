// A fault-injecting HTTPS proxy in front of the real test API server (control-plane.ts), for what a
// healthy server never does on cue: 500s, 429 with Retry-After, slow answers, answers that never come
// (the client's timeout must fire), dropped connections and refused connections.
//
// It terminates TLS with its own serving certificate from the test CA (127.0.0.1/localhost) and forwards
// every request it does not fault to the API server with the DEPLOYER's client certificate, so what
// reaches the server is exactly what the deployer would send, authenticated and RBAC-checked as the
// deployer, and counted in the server's audit log under the deployer's name. Injected answers never
// reach the server (the audit log does not see them); `requests` lists both, marked.
// Bodies are buffered (the deployer sends and reads single objects; it never watches).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, createServer, request as upstreamRequest, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { issueCertificate, type Pki } from './control-plane.js';

/** One injected behaviour, used by the next `count` (default 1) requests that match `method` and `path`. */
export interface FaultMatch { method?: string; path?: RegExp; count?: number }
export interface Fault extends FaultMatch {
  kind: 'status' | 'delay' | 'hang' | 'drop' | 'drop-answer';
  status?: number; retryAfter?: number; ms?: number;
}
export interface ProxiedRequest { method: string; path: string; status?: number; injected?: Fault['kind'] }

export interface FaultProxy {
  url: string;
  /** A kubeconfig for the deployer through the proxy (test CA; the deployer's pair, which the proxy does not ask for). */
  kubeconfig(namespace?: string): string;
  /** Answers with a Kubernetes Status of `status` (and Retry-After), without forwarding. */
  failNext(status: number, match?: FaultMatch & { retryAfter?: number }): void;
  /** Holds matching requests for `ms`, then forwards them (a slow server). */
  delayNext(ms: number, match?: FaultMatch): void;
  /** Never answers matching requests (until clearFaults or stop): the client must time out. */
  hangNext(match?: FaultMatch): void;
  /** Destroys the connection of matching requests without an answer (ECONNRESET / socket hang up). */
  dropNext(match?: FaultMatch): void;
  /** Forwards matching requests (the server acts on them), then drops the connection instead of answering. */
  dropAnswerNext(match?: FaultMatch): void;
  /** Stops listening and drops open connections (ECONNREFUSED); resume() listens on the same port again. */
  refuse(): Promise<void>;
  resume(): Promise<void>;
  /** Faults not used up yet (a test that asked for n must see n met); clearFaults drops them and releases hung requests. */
  unusedFaults(): number;
  clearFaults(): void;
  readonly requests: ProxiedRequest[];
  connections(): number;
  /** How long, within [from, to] (performance.now() ms), at least one forwarded request was with the API server. */
  busyWithin(from: number, to: number): number;
  stop(): Promise<void>;
}

const REASONS: Record<number, string> = { 403: 'Forbidden', 409: 'Conflict', 429: 'TooManyRequests', 500: 'InternalError', 503: 'ServiceUnavailable', 504: 'Timeout' };
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'host', 'content-length']);

export async function startFaultProxy(options: { upstream: string; pki: Pki; identity?: 'deployer' | 'admin' }): Promise<FaultProxy> {
  const { pki } = options;
  const upstream = new URL(options.upstream);
  const client = pki.client[options.identity ?? 'deployer'];
  const serving = await issueCertificate(pki.dir, `fault-proxy-${randomUUID().slice(0, 8)}`, '/CN=kfm-fault-proxy', ['IP:127.0.0.1', 'DNS:localhost']);
  const ca = readFileSync(pki.caFile);
  const agent = new Agent({ keepAlive: true, ca, cert: readFileSync(client.certFile), key: readFileSync(client.keyFile) });
  const faults: Array<Fault & { count: number }> = [];
  const hung = new Set<ServerResponse>();
  const requests: ProxiedRequest[] = [];
  const spans: Array<[number, number]> = [];
  const sockets = new Set<Socket>();
  let connections = 0;

  const take = (req: IncomingMessage): Fault | undefined => {
    const path = new URL(req.url ?? '/', 'https://proxy').pathname;
    const index = faults.findIndex((f) => (!f.method || f.method === req.method) && (!f.path || f.path.test(path)));
    const fault = faults[index];
    if (fault && --fault.count <= 0) faults.splice(index, 1);
    return fault;
  };

  function forward(req: IncomingMessage, res: ServerResponse, body: Buffer, entry: ProxiedRequest, loseAnswer = false): void {
    const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => !HOP_BY_HOP.has(k)));
    const start = performance.now();
    const out = upstreamRequest({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, agent,
      headers: { ...headers, 'content-length': String(body.length) } }, (answer) => {
      const parts: Buffer[] = [];
      answer.on('data', (c: Buffer) => parts.push(c)).on('end', () => {
        spans.push([start, performance.now()]);
        entry.status = answer.statusCode;
        if (loseAnswer) return void req.socket.destroy();
        const back = Object.fromEntries(Object.entries(answer.headers).filter(([k]) => !HOP_BY_HOP.has(k)));
        if (!res.destroyed) res.writeHead(answer.statusCode ?? 502, back).end(Buffer.concat(parts));
      });
    });
    out.on('error', () => res.destroy());
    out.end(body);
  }

  const server: Server = createServer({ cert: readFileSync(serving.certFile), key: readFileSync(serving.keyFile) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c)).on('end', () => {
      const entry: ProxiedRequest = { method: req.method ?? '', path: new URL(req.url ?? '/', 'https://proxy').pathname };
      requests.push(entry);
      const fault = take(req);
      const body = Buffer.concat(chunks);
      if (fault) entry.injected = fault.kind;
      if (fault?.kind === 'status') {
        const code = fault.status ?? 500;
        entry.status = code;
        res.writeHead(code, { 'content-type': 'application/json', ...(fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {}) });
        return void res.end(JSON.stringify({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure',
          message: `injected fault ${code}`, reason: REASONS[code] ?? 'InternalError', code }));
      }
      if (fault?.kind === 'drop') return void req.socket.destroy();
      if (fault?.kind === 'hang') return void (hung.add(res), res.on('close', () => hung.delete(res)));
      if (fault?.kind === 'drop-answer') return forward(req, res, body, entry, true);
      if (fault?.kind === 'delay') return void setTimeout(() => forward(req, res, body, entry), fault.ms ?? 0);
      forward(req, res, body, entry);
    });
  });
  server.on('secureConnection', (socket: Socket) => {
    connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  const listen = (port: number) => new Promise<void>((resolve, reject) => {
    server.once('error', reject).listen(port, '127.0.0.1', () => (server.off('error', reject), resolve()));
  });
  const close = () => new Promise<void>((resolve) => {
    server.close(() => resolve());
    for (const socket of sockets) socket.destroy();
  });
  await listen(0);
  const { port } = server.address() as AddressInfo;
  const url = `https://127.0.0.1:${port}`;
  const add = (fault: Fault) => void faults.push({ ...fault, count: fault.count ?? 1 });
  const b64 = (file: string) => readFileSync(file).toString('base64');

  return {
    url,
    kubeconfig: (namespace = 'kubeflow') => `apiVersion: v1
kind: Config
current-context: fault-proxy
clusters: [{name: fault-proxy, cluster: {server: "${url}", certificate-authority-data: ${b64(pki.caFile)}}}]
users: [{name: deployer, user: {client-certificate-data: ${b64(client.certFile)}, client-key-data: ${b64(client.keyFile)}}}]
contexts: [{name: fault-proxy, context: {cluster: fault-proxy, user: deployer, namespace: ${namespace}}}]
`,
    failNext: (status, match = {}) => add({ ...match, kind: 'status', status }),
    delayNext: (ms, match = {}) => add({ ...match, kind: 'delay', ms }),
    hangNext: (match = {}) => add({ ...match, kind: 'hang' }),
    dropNext: (match = {}) => add({ ...match, kind: 'drop' }),
    dropAnswerNext: (match = {}) => add({ ...match, kind: 'drop-answer' }),
    refuse: () => (server.listening ? close() : Promise.resolve()),
    resume: () => (server.listening ? Promise.resolve() : listen(port)),
    unusedFaults: () => faults.reduce((sum, f) => sum + f.count, 0),
    clearFaults: () => {
      faults.splice(0);
      for (const res of hung) res.destroy();
    },
    requests,
    connections: () => connections,
    busyWithin(from, to) {
      const inside = spans.filter(([s, e]) => e > from && s < to)
        .map(([s, e]): [number, number] => [Math.max(s, from), Math.min(e, to)]).sort((a, b) => a[0] - b[0]);
      let [busy, reach] = [0, from];
      for (const [s, e] of inside) {
        if (e > reach) busy += e - Math.max(s, reach);
        reach = Math.max(reach, e);
      }
      return busy;
    },
    async stop() {
      for (const res of hung) res.destroy();
      if (server.listening) await close();
      agent.destroy();
    },
  };
}
