// No step writes from a stale state (issue 10, proof 1 on the directory target;
// the real cluster's proof is test/e2e-kubernetes.test.ts). Two independent
// deployers ("two processes") share one directory; their reads and writes are
// delayed at random so they interleave; twelve pushes of increasing versions are
// fired at once, in a shuffled order, spread over both. The Deployment, as
// stored after every write, must never go back in semver order, and must end on
// the newest. Then: a crash between the claim and the writes is repaired by the
// next step, whatever it is.
//
// This fails when the claim is removed (the state written last instead of first):
// a snapshot can then see a newer step's Deployment with the older state, and the
// older push passes every check and writes its image over the newer one.
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { createDeployer, type Deployer, type Trigger } from '../src/app/deployer.js';
import type { KubeObject, PushEvent } from '../src/domain/types.js';
import { TargetError } from '../src/errors.js';
import { parseImageRef } from '../src/image/reference.js';
import { silentLogger } from '../src/log.js';
import { parseTagPolicy } from '../src/policy/tag-policy.js';
import { GENERATION_ANNOTATION } from '../src/render/names.js';
import type { ResourceFetcher } from '../src/resource/port.js';
import { createDirectoryTarget } from '../src/targets/directory.js';
import type { Target } from '../src/targets/port.js';
import { watchSecrets } from './support/leak-guard.js';

const REGISTRY = 'registry.example';
const image = parseImageRef(`${REGISTRY}/kubeflow/metadata:1.0.0`);
const tagPolicy = parseTagPolicy('semver:^1', image.tag);
const MYSQL_PASSWORD = 'claim-test-mysql-password';
watchSecrets(MYSQL_PASSWORD);
const N = 12;
const version = (n: number) => `1.${n}.0`;
const digestOf = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const versionOfImage = (text: string): number => {
  const match = /@sha256:([0-9a-f]{64})$/.exec(text);
  if (!match) throw new Error(`not pinned by digest: ${text}`);
  return parseInt(match[1]!, 16);
};

/** The registry: every version's tag resolves to its own digest. */
const fetcher: ResourceFetcher = {
  async fetch(request) {
    const tag = request.tag ?? image.tag;
    const n = Number(/^1\.(\d+)\.0$/.exec(tag)?.[1]);
    if (request.digest !== undefined && request.digest !== digestOf(n)) throw new Error(`test bug: ${tag} pushed with ${request.digest}`);
    return { registryPath: `${REGISTRY}/kubeflow/metadata@${digestOf(n)}`, digest: digestOf(n), tag };
  },
};

const pushEventOf = (n: number): PushEvent => ({ provider: 'generic', registry: REGISTRY, repository: 'kubeflow/metadata', tag: version(n), digest: digestOf(n) });
const pushOf = (n: number): Trigger => ({ hook: 'upgrade-charm', pushes: [pushEventOf(n)] });
const config: Trigger = { hook: 'config-changed', mysql: { host: 'mysql', port: 3306, user: 'root', password: MYSQL_PASSWORD } };

interface Shared {
  dir: string;
  /** The stored Deployment's version after every Deployment write of either process, in landing order. */
  seen: number[];
  delay: () => number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One process's view of the shared directory: a target of its own, with every read and write
 * delayed first. The directory target's compare-and-swap runs synchronously inside `write`, so
 * the file read right after the call returns is what that write (or a concurrent winner) left.
 */
function process_(shared: Shared, extra: { beforeWrite?: (desired: KubeObject) => void } = {}): Target {
  const inner = createDirectoryTarget({ path: shared.dir, namespace: 'kubeflow' });
  const file = join(shared.dir, 'kubeflow', 'deployment-kubeflow-metadata.yaml');
  return {
    description: inner.description,
    async read(key) {
      await sleep(shared.delay());
      return inner.read(key);
    },
    async write(desired, live) {
      await sleep(shared.delay());
      extra.beforeWrite?.(desired);
      const written = inner.write(desired, live);
      if (desired.kind === 'Deployment') {
        const stored = /image: (\S+)/.exec(readFileSync(file, 'utf8'))?.[1];
        if (stored) shared.seen.push(versionOfImage(stored));
      }
      return written;
    },
  };
}

const deployerOn = (target: Target): Deployer =>
  createDeployer({ app: 'kubeflow-metadata', namespace: 'kubeflow', image, tagPolicy, setStatus: true, target, fetcher, logger: silentLogger, maxAttempts: 200 });

async function stored(dir: string) {
  const target = createDirectoryTarget({ path: dir, namespace: 'kubeflow' });
  const deployment = await target.read({ kind: 'Deployment', name: 'kubeflow-metadata' });
  const stateObject = await target.read({ kind: 'ConfigMap', name: 'kubeflow-metadata-deployer-state' });
  const state = JSON.parse((stateObject!.data as Record<string, string>)['state.json']!);
  return {
    version: versionOfImage((deployment!.spec as any).template.spec.containers[0].image),
    generation: Number(deployment!.metadata.annotations?.[GENERATION_ANNOTATION]),
    state,
  };
}

async function inTempDir<T>(run: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'kfm-claim-'));
  try {
    return await run(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** A strictly increasing run of versions, each a real rollout: no step back, ever. */
function backwardsSteps(seen: number[]): string[] {
  return seen.flatMap((n, i) => (i > 0 && n < seen[i - 1]! ? [`${seen[i - 1]} → ${n} at write ${i}`] : []));
}

describe('two processes, twelve concurrent pushes', () => {
  it('the Deployment never goes back in semver order, and ends on the newest (fast-check, 30 runs)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.shuffledSubarray(Array.from({ length: N }, (_, i) => i + 1), { minLength: N, maxLength: N }),
        fc.array(fc.integer({ min: 0, max: 1 }), { minLength: N, maxLength: N }),
        fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 64, maxLength: 64 }),
        async (order, processOf, delays) => inTempDir(async (dir) => {
          let tick = 0;
          const shared: Shared = { dir, seen: [], delay: () => delays[tick++ % delays.length]! };
          const deployers = [deployerOn(process_(shared)), deployerOn(process_(shared))];
          await deployers[0]!.run(config); // the workload on 1.0.0
          expect(shared.seen).toEqual([0]);
          const reports = await Promise.all(order.map((n, i) => deployers[processOf[i]!]!.run(pushOf(n), { id: `push-${n}` })));
          expect(reports.map((report) => report.outcome).filter((outcome) => outcome !== 'applied' && outcome !== 'ignored')).toEqual([]);
          expect(backwardsSteps(shared.seen)).toEqual([]);
          const end = await stored(dir);
          expect(end.version).toBe(N);
          expect(end.state.resources['oci-image']).toMatchObject({ tag: version(N), digest: digestOf(N) });
          expect(end.generation).toBe(end.state.generation); // the objects stand for the latest claim
          expect(await deployers[1]!.status()).toMatchObject({ status: { state: 'active', message: '' } });
        }),
      ),
      { numRuns: 30 },
    );
  }, 240_000);
});

describe('a crash between the claim and the writes', () => {
  const repairs: Array<[string, (deployers: Deployer[]) => Promise<unknown>]> = [
    ['the same push again (a duplicate), in the same process', (d) => d[0]!.run(pushOf(1))],
    ['the same push again, in the other process', (d) => d[1]!.run(pushOf(1))],
    ['an older push', (d) => d[1]!.run(pushOf(0))],
    ['a scheduled refresh', (d) => d[0]!.run({ hook: 'upgrade-charm' })],
    ['an unchanged config', (d) => d[1]!.run(config)],
  ];

  it.each(repairs)('is repaired by the next step: %s', async (_name, next) => inTempDir(async (dir) => {
    let crash: 'armed' | 'claimed' | 'done' | undefined;
    const shared: Shared = { dir, seen: [], delay: () => 0 };
    const crashing = process_(shared, {
      beforeWrite(desired) {
        if (crash === 'claimed') {
          crash = 'done';
          throw new TargetError('the process died after its claim');
        }
        if (crash === 'armed' && desired.kind === 'ConfigMap') crash = 'claimed'; // this write, the claim, lands
      },
    });
    const deployers = [deployerOn(crashing), deployerOn(process_(shared))];
    await deployers[0]!.run(config);
    crash = 'armed';
    await expect(deployers[0]!.run(pushOf(1))).rejects.toThrow(/died after its claim/);
    expect(crash).toBe('done');
    const torn = await stored(dir);
    expect(torn.state.resources['oci-image'].tag).toBe(version(1)); // the claim landed
    expect(torn.version).toBe(0); // the Deployment did not
    expect(torn.generation).toBeLessThan(torn.state.generation);

    await next(deployers);
    const repaired = await stored(dir);
    expect(repaired.version).toBe(1);
    expect(repaired.generation).toBe(repaired.state.generation);
    expect(repaired.state.resources['oci-image']).toMatchObject({ tag: version(1), digest: digestOf(1) });
    expect(backwardsSteps(shared.seen)).toEqual([]);
    // Every object the claim stands for carries its generation, the Secret too.
    const secret = await createDirectoryTarget({ path: dir, namespace: 'kubeflow' }).read({ kind: 'Secret', name: 'kubeflow-metadata-mysql' });
    expect(secret!.metadata.annotations?.[GENERATION_ANNOTATION]).toBe(String(repaired.state.generation));
  }));

  it('once repaired, a further duplicate writes nothing', async () => inTempDir(async (dir) => {
    const shared: Shared = { dir, seen: [], delay: () => 0 };
    const deployer = deployerOn(process_(shared));
    await deployer.run(config);
    await deployer.run(pushOf(1));
    const report = await deployer.run(pushOf(1));
    expect(report).toMatchObject({ outcome: 'ignored', changes: [] });
    expect(report.reason).toMatch(/already deployed/);
    expect(shared.seen).toEqual([0, 1]);
  }));
});
