// Plain HTTP(S) to the API server. client-node's generated API and models
// (4 MB the Lambda would parse on every cold start) are not used: only its
// KubeConfig, which turns the kubeconfig into request options (agent, cluster
// CA, client certificate, skipTLSVerify, server name, Authorization from a token
// or an authenticator such as the EKS one). Each request carries a timeout,
// since a hung API server would otherwise eat the Lambda's whole budget, and
// the answer is returned as raw text: the target wants the JSON verbatim.
import * as http from 'node:http';
import * as https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';

/** A request that got no complete answer in time; retried like a connection error. */
export class RequestTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'RequestTimeoutError';
  }
}

export interface ApiRequest {
  method: 'GET' | 'POST' | 'PATCH';
  /** Path below the cluster's server URL, e.g. `/api/v1/namespaces/ns/secrets/name`. */
  path: string;
  /** JSON text, sent as is. */
  body?: string;
  contentType?: string;
}

export interface ApiResponse {
  status: number;
  /** Lower-case names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  text: string;
}

/**
 * The node:https options for one request: KubeConfig fills in the agent, TLS
 * material and credentials. Made afresh for every request, as client-node does,
 * so that rotating tokens (EKS, exec plugins, token files) are read each time.
 */
export async function requestOptions(kubeConfig: KubeConfig, request: Omit<ApiRequest, 'path' | 'body'>): Promise<https.RequestOptions> {
  const headers: Record<string, string> = { Accept: 'application/json, */*;q=0.8' };
  if (request.contentType) headers['Content-Type'] = request.contentType;
  const options: https.RequestOptions = { method: request.method, headers };
  await kubeConfig.applyToHTTPSOptions(options);
  options.agent = keptAlive(kubeConfig, options);
  return options;
}

const agents = new WeakMap<KubeConfig, { key: string; agent: http.Agent }>();

/**
 * client-node makes a new agent per request, so every request opened a new (TLS)
 * connection: an event's reads and writes paid a handshake each. One keep-alive
 * agent per connection's TLS material serves them all, and the warm function's
 * next events; new material (a rotated client certificate) gets a new agent. A
 * proxy agent (kubeconfig proxy-url) is left as it is. A socket the server closed
 * while the function was frozen fails like a dropped connection, and is retried.
 */
function keptAlive(kubeConfig: KubeConfig, options: https.RequestOptions): https.RequestOptions['agent'] {
  const made = options.agent;
  if (typeof made !== 'object') return made;
  const secure = made.constructor === https.Agent;
  if (!secure && made.constructor !== http.Agent) return made;
  const tls = [options.ca, options.cert, options.key, options.pfx, options.passphrase, options.rejectUnauthorized, options.servername];
  const key = `${secure}:${JSON.stringify(tls.map((value) => (Buffer.isBuffer(value) ? value.toString('base64') : value ?? null)))}`;
  const kept = agents.get(kubeConfig);
  if (kept?.key === key) return kept.agent;
  kept?.agent.destroy();
  const agent = secure ? new https.Agent({ ...(made as https.Agent).options, keepAlive: true }) : new http.Agent({ keepAlive: true });
  agents.set(kubeConfig, { key, agent });
  return agent;
}

/** Sends `request` to `server` (the current cluster's URL); aborted after `timeoutMs()` ms, read once the options are ready. */
export async function send(kubeConfig: KubeConfig, server: string, request: ApiRequest, timeoutMs: () => number): Promise<ApiResponse> {
  const url = new URL(server.replace(/\/+$/, '') + request.path);
  const options = await requestOptions(kubeConfig, request);
  const ms = Math.max(1, Math.floor(timeoutMs()));
  const transport = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = transport.request(url, options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('error', fail);
      res.on('end', () => {
        clearTimeout(timer);
        const headers: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers)) {
          if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
        }
        resolve({ status: res.statusCode ?? 0, headers, text: Buffer.concat(chunks).toString('utf8') });
      });
    });
    const timer = setTimeout(() => req.destroy(new RequestTimeoutError(ms)), ms);
    function fail(error: Error) {
      clearTimeout(timer);
      reject(error);
    }
    req.on('error', fail);
    req.end(request.body);
  });
}

/**
 * `<code> <reason>: <message>` from the API's Status answer: the API's own words (bounded), never the
 * body itself, which may hold a Secret. The one formatting of API failures (target, watcher, Events).
 */
export function statusMessage(code: number, body: string): string {
  try {
    const status = JSON.parse(body) as { reason?: unknown; message?: unknown } | null;
    const head = typeof status?.reason === 'string' && status.reason ? `${code} ${status.reason}` : `${code}`;
    return typeof status?.message === 'string' && status.message ? `${head}: ${status.message.slice(0, 300)}` : head;
  } catch {
    return `${code}`;
  }
}
