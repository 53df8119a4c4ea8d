// The local HTTP server (`npm run serve`, and the tests): the routes of
// serverless.yml, each request turned into the API Gateway HTTP API (v2) event
// Lambda would receive and passed to the same handler. Binds loopback only.
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Context } from 'aws-lambda';

export type LambdaHandler = (event: any, context: Context) => Promise<unknown>;

export interface LocalHandlers {
  intake: LambdaHandler;
  status: LambdaHandler;
}

export const defaults = {
  host: '127.0.0.1',
  port: 0,
  /** Above API Gateway's own limit the request never reaches a function. */
  maxBodyBytes: 10 * 1024 * 1024,
  timeoutMs: 30_000,
};

interface Route {
  method: string;
  pattern: RegExp;
  routeKey: string;
  handler: keyof LocalHandlers;
  params: (match: RegExpExecArray) => Record<string, string>;
}

const ROUTES: Route[] = [
  { method: 'POST', pattern: /^\/webhooks\/registry\/([^/]+)$/, routeKey: 'POST /webhooks/registry/{provider}', handler: 'intake', params: (m) => ({ provider: decodeURIComponent(m[1] ?? '') }) },
  { method: 'POST', pattern: /^\/webhooks\/config$/, routeKey: 'POST /webhooks/config', handler: 'intake', params: () => ({}) },
  { method: 'POST', pattern: /^\/control$/, routeKey: 'POST /control', handler: 'intake', params: () => ({}) },
  { method: 'GET', pattern: /^\/status$/, routeKey: 'GET /status', handler: 'status', params: () => ({}) },
];

function lambdaContext(timeoutMs: number): Context {
  const end = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false, functionName: 'local', functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:local:000000000000:function:local', memoryLimitInMB: '512',
    awsRequestId: randomUUID(), logGroupName: 'local', logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, end - Date.now()),
    done() {}, fail() {}, succeed() {},
  };
}

async function readBody(request: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function isDecodable(path: string): boolean {
  try {
    decodeURIComponent(path);
    return true;
  } catch {
    return false;
  }
}

/** The v2 event for a request; bodies that are not valid UTF-8 travel base64-encoded, as API Gateway sends them. */
export function httpApiEvent(request: IncomingMessage, url: URL, route: Route, match: RegExpExecArray, body: Buffer) {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(',') : value;
  }
  const text = body.toString('utf8');
  const isText = Buffer.from(text, 'utf8').equals(body);
  return {
    version: '2.0', routeKey: route.routeKey, rawPath: url.pathname, rawQueryString: url.search.slice(1),
    headers, queryStringParameters: Object.fromEntries(url.searchParams), pathParameters: route.params(match),
    requestContext: { http: { method: route.method, path: url.pathname, protocol: 'HTTP/1.1', sourceIp: request.socket.remoteAddress ?? '', userAgent: headers['user-agent'] ?? '' }, requestId: randomUUID(), routeKey: route.routeKey, stage: '$default', timeEpoch: Date.now() },
    body: body.length === 0 ? undefined : isText ? text : body.toString('base64'),
    isBase64Encoded: body.length > 0 && !isText,
  };
}

export async function startLocalServer(handlers: LocalHandlers, options: Partial<typeof defaults> = {}): Promise<{ server: Server; url: string; stop: () => Promise<void> }> {
  const settings = { ...defaults, ...options };
  const server = createServer(async function handleRequest(request, response) {
    const send = (status: number, body: unknown, headers: Record<string, string> = { 'content-type': 'application/json' }) => {
      response.writeHead(status, headers).end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    try {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const candidates = ROUTES.filter((route) => route.pattern.test(url.pathname));
      const route = candidates.find((candidate) => candidate.method === request.method);
      if (!route) return send(candidates.length ? 405 : 404, { error: candidates.length ? 'method not allowed' : 'no such route' });
      // decodeURIComponent throws on `%zz` or a cut UTF-8 sequence: the caller's mistake, not a 500.
      if (!isDecodable(url.pathname)) return send(400, { error: 'path: malformed percent-encoding' });
      const body = await readBody(request, settings.maxBodyBytes);
      if (!body) return send(413, { error: 'request body too large' });
      const event = httpApiEvent(request, url, route, route.pattern.exec(url.pathname)!, body);
      const result = (await handlers[route.handler](event, lambdaContext(settings.timeoutMs))) as { statusCode?: number; headers?: Record<string, string>; body?: string };
      send(result.statusCode ?? 200, result.body ?? '', result.headers ?? {});
    } catch (error) {
      process.stderr.write(`local server: handler failed: ${(error as Error).name}\n`);
      if (!response.headersSent) send(500, { error: 'internal error' });
    }
  });
  await new Promise<void>((resolve) => server.listen(settings.port, settings.host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    server,
    url: `http://${settings.host}:${port}`,
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
