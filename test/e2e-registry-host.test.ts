// Issue 12 §7, against a REAL CNCF distribution registry (Debian's docker-registry): the
// notification it sends names the host the client pushed to in `request.host`, and intake keeps
// only the pushes to KFM_IMAGE's registry. The registry listens on 127.0.0.1:<port>, KFM_IMAGE
// names that same host:port (as the e2e registry suites do): those pushes are queued. A push to the
// same process under another name (localhost:<port>) is not to the registry KFM_IMAGE names: ignored.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseImageRef } from '../src/image/reference.js';
import { pushCommand } from '../src/intake/commands.js';
import { parseTagPolicy } from '../src/policy/tag-policy.js';
import { parseDistribution } from '../src/registry/payloads/distribution.js';
import { pushImage, startRegistry, type TestRegistry } from './support/registry.js';

const REPOSITORY = 'kubeflow/metadata';
let registry: TestRegistry;
let capture: Server;
const bodies: unknown[] = [];

/** The notification batches that carry a manifest push of `tag`. */
const batchesFor = (tag: string) =>
  bodies.filter((body) => (body as { events: Array<{ action: string; target: { tag?: string } }> }).events.some((e) => e.action === 'push' && e.target.tag === tag));

async function until(probe: () => boolean, what: string): Promise<void> {
  const end = Date.now() + 15_000;
  while (!probe()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(bodies).slice(0, 2000)}\n${registry.logs().slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  capture = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      bodies.push(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      res.writeHead(202).end();
    });
  });
  await new Promise<void>((resolve) => capture.listen(0, '127.0.0.1', resolve));
  const { port } = capture.address() as AddressInfo;
  registry = await startRegistry({ auth: false, notifications: { url: `http://127.0.0.1:${port}/webhooks/registry/distribution` } });
}, 30_000);
afterAll(async () => {
  await registry?.stop();
  await new Promise((resolve) => capture?.close(resolve));
});

describe('a real distribution registry at 127.0.0.1:<port>, KFM_IMAGE naming that host:port', () => {
  const options = () => {
    const image = parseImageRef(`${registry.host}/${REPOSITORY}:v1`);
    return { image, tagPolicy: parseTagPolicy('regex:^v\\d+$', image.tag), now: new Date('2030-01-01T00:00:00Z') };
  };

  it('a push to 127.0.0.1:<port> is queued, its registry the host the notification names', async () => {
    const digest = await pushImage(registry, { repository: REPOSITORY, tag: 'v1', mediaType: 'oci' });
    await until(() => batchesFor('v1').length > 0, 'the notification of the v1 push');
    for (const body of batchesFor('v1')) {
      const parsed = parseDistribution(body);
      expect(parsed.events).toEqual([expect.objectContaining({ provider: 'distribution', registry: registry.host, repository: REPOSITORY, tag: 'v1', digest })]);
      const accepted = pushCommand(parsed, options());
      expect(accepted.command).toMatchObject({ kind: 'push', pushes: [expect.objectContaining({ registry: registry.host, tag: 'v1', digest })] });
    }
  });

  it('a push to the same registry under another name (localhost:<port>) is ignored, saying which host', async () => {
    await pushImage({ url: `http://localhost:${registry.port}`, auth: undefined }, { repository: REPOSITORY, tag: 'v2', mediaType: 'docker' });
    await until(() => batchesFor('v2').length > 0, 'the notification of the v2 push');
    for (const body of batchesFor('v2')) {
      const accepted = pushCommand(parseDistribution(body), options());
      expect(accepted.command).toBeUndefined();
      expect(accepted.ignored).toContain(`${REPOSITORY}:v2: registry localhost:${registry.port} is not ${registry.host}`);
    }
  });
});
