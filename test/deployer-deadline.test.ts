// The deployer's conflict retries stay inside the invocation: under contention
// that never ends it answers 409 while there is time left, instead of running
// into the Lambda timeout.
import { describe, expect, it } from '@jest/globals';
import { createDeployer } from '../src/app/deployer.js';
import { ConflictError, TargetError } from '../src/errors.js';
import { parseImageRef } from '../src/image/reference.js';
import { parseTagPolicy } from '../src/policy/tag-policy.js';
import { silentLogger } from '../src/log.js';
import { createOfflineFetcher } from '../src/resource/offline-fetcher.js';
import type { Target } from '../src/targets/port.js';

/** A target where every write loses a race. */
function alwaysConflicting() {
  let writes = 0;
  const target: Target = {
    description: 'always conflicting',
    read: async () => undefined,
    write: async () => {
      writes += 1;
      throw new ConflictError('changed since it was read');
    },
  };
  return { target, writes: () => writes };
}

function deployer(target: Target, limits: { deadline?: () => number; maxAttempts?: number }) {
  const image = parseImageRef('registry.example/kubeflow/metadata:v1');
  return createDeployer({
    app: 'kubeflow-metadata', namespace: 'kubeflow', image, tagPolicy: parseTagPolicy('track', image.tag), setStatus: true,
    target, fetcher: createOfflineFetcher(), logger: silentLogger, ...limits,
  });
}

const trigger = { hook: 'config-changed', mysql: { host: 'mysql', port: 3306, user: 'root', password: 'deadline-test-password' } } as const;

describe('conflict retries and the deadline', () => {
  it('with under a second left, the first conflict is answered at once (409, out of time)', async () => {
    const { target, writes } = alwaysConflicting();
    const error = await deployer(target, { deadline: () => 900 }).run(trigger).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TargetError);
    expect((error as TargetError).message).toMatch(/gave up after 1 conflicting writes: out of time/);
    expect(writes()).toBe(1);
  });

  it('with 1.3 s left, it retries, then gives up before the deadline', async () => {
    const { target, writes } = alwaysConflicting();
    const end = Date.now() + 1300;
    const started = Date.now();
    const error = await deployer(target, { deadline: () => end - Date.now() }).run(trigger).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/out of time/);
    expect(writes()).toBeGreaterThanOrEqual(2);
    expect(Date.now() - started).toBeLessThan(1300);
  });

  it('without a deadline, the attempts bound it', async () => {
    const { target, writes } = alwaysConflicting();
    await expect(deployer(target, { maxAttempts: 3 }).run(trigger)).rejects.toThrow(/gave up after 3 conflicting writes$/);
    expect(writes()).toBe(3);
  });
});
