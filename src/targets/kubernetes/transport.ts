// client-node's HTTP transport, replaced for two reasons: its default
// (node-fetch without a signal) has no per-request timeout, so a hung API
// server would eat the Lambda's whole budget; and it reads the response body
// once, while the target needs the raw JSON (client-node's models drop fields
// they do not know and turn timestamps into Dates).
import * as http from 'node:http';
import * as https from 'node:https';
import { ResponseContext, wrapHttpLibrary, type HttpLibrary, type RequestContext } from '@kubernetes/client-node';

/** A request that got no complete answer in time; retried like a connection error. */
export class RequestTimeoutError extends Error {
  readonly code = 'ETIMEDOUT';
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'RequestTimeoutError';
  }
}

/** An HttpLibrary whose requests are aborted after `timeoutMs()` milliseconds (read at send time). */
export function timedHttpLibrary(timeoutMs: () => number): HttpLibrary {
  return wrapHttpLibrary({ send: (request) => send(request, Math.max(1, Math.floor(timeoutMs()))) });
}

function send(request: RequestContext, timeoutMs: number): Promise<ResponseContext> {
  const url = new URL(request.getUrl());
  const transport = url.protocol === 'https:' ? https : http;
  const body = request.getBody();
  if (body !== undefined && typeof body !== 'string') {
    return Promise.reject(new Error('only string request bodies are supported'));
  }
  return new Promise((resolve, reject) => {
    const req = transport.request(
      url,
      { method: request.getHttpMethod(), headers: request.getHeaders(), agent: request.getAgent() },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', reject);
        res.on('end', () => {
          clearTimeout(timer);
          const buffer = Buffer.concat(chunks);
          const headers: Record<string, string> = {};
          for (const [name, value] of Object.entries(res.headers)) {
            if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
          }
          resolve(new ResponseContext(res.statusCode ?? 0, headers, {
            text: () => Promise.resolve(buffer.toString('utf8')),
            binary: () => Promise.resolve(buffer),
          }));
        });
      },
    );
    const timer = setTimeout(() => req.destroy(new RequestTimeoutError(timeoutMs)), timeoutMs);
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    req.end(body);
  });
}
