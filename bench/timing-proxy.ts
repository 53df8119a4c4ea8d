// A loopback HTTP proxy in front of a peer (the Kubernetes double, the
// registry) that records when each request was in the peer's hands, so the
// bench can subtract the peer's own time from a request's latency.
import { createServer, request as forward, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TimingProxy {
  url: string;
  /** How long, within [from, to] (performance.now() ms), at least one request was with the peer. */
  busyWithin(from: number, to: number): number;
  stop(): Promise<void>;
}

export async function startTimingProxy(upstream: string): Promise<TimingProxy> {
  const target = new URL(upstream);
  const spans: Array<[number, number]> = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const start = performance.now();
      const out = forward({ host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
        const parts: Buffer[] = [];
        answer.on('data', (chunk: Buffer) => parts.push(chunk));
        answer.on('end', () => {
          spans.push([start, performance.now()]);
          res.writeHead(answer.statusCode ?? 502, answer.headers).end(Buffer.concat(parts));
        });
      });
      out.on('error', () => res.destroy());
      out.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    busyWithin(from, to) {
      const inside = spans
        .filter(([start, end]) => end > from && start < to)
        .map(([start, end]): [number, number] => [Math.max(start, from), Math.min(end, to)])
        .sort((a, b) => a[0] - b[0]);
      let busy = 0;
      let reach = from;
      for (const [start, end] of inside) {
        if (end > reach) busy += end - Math.max(start, reach);
        reach = Math.max(reach, end);
      }
      return busy;
    },
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()); }),
  };
}
