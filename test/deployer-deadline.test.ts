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

/** A target where every write loses a race (after `delayMs`). */
function alwaysConflicting(delayMs = 0) {
  let writes = 0;
  const target: Target = {
    description: 'always conflicting',
    read: async () => undefined,
    write: async () => {
      writes += 1;
      if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
      throw new ConflictError('changed since it was read');
    },
  };
  return { target, writes: () => writes };
}

function deployer(target: Target, limits: { maxAttempts?: number } = {}) {
  const image = parseImageRef('registry.example/kubeflow/metadata:v1');
  return createDeployer({
    app: 'kubeflow-metadata', namespace: 'kubeflow', image, tagPolicy: parseTagPolicy('track', image.tag), setStatus: true,
    target, fetcher: createOfflineFetcher(), logger: silentLogger, ...limits,
  });
}

const trigger = { hook: 'config-changed', mysql: { host: 'mysql', port: 3306, user: 'root', password: 'deadline-test-password' } } as const;

describe('conflict retries and the deadline', () => {
  // The deadline is the call's (the invocation's), not the deployer's: one deployer serves many calls.
  it('with under a second left (the answer margin), it answers at once without starting a write (409, out of time)', async () => {
    const { target, writes } = alwaysConflicting();
    const started = Date.now();
    const error = await deployer(target).run(trigger, { deadline: () => 900 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TargetError);
    expect((error as TargetError).statusCode).toBe(409);
    expect((error as TargetError).message).toMatch(/out of time before the step could run/);
    expect(writes()).toBe(0);
    expect(Date.now() - started).toBeLessThan(900);
  });

  it('with just over the margin left, the first conflict is answered at once (no retry fits)', async () => {
    const { target, writes } = alwaysConflicting(300);
    const end = Date.now() + 1000 + 200; // the write is tried; once it has lost, the budget is spent
    const error = await deployer(target).run(trigger, { deadline: () => end - Date.now() }).catch((e: unknown) => e);
    expect((error as TargetError).message).toMatch(/gave up after 1 conflicting writes: out of time/);
    expect(writes()).toBe(1);
    expect(Date.now()).toBeLessThan(end);
  });

  it('a deadline given to one call does not bind the next', async () => {
    const { target, writes } = alwaysConflicting();
    const shared = deployer(target, { maxAttempts: 2 });
    await expect(shared.run(trigger, { deadline: () => 900 })).rejects.toThrow(/out of time/);
    await expect(shared.run(trigger)).rejects.toThrow(/gave up after 2 conflicting writes$/);
    expect(writes()).toBe(2);
  });

  it('with 1.3 s left, it retries, then gives up before the deadline', async () => {
    const { target, writes } = alwaysConflicting();
    const end = Date.now() + 1300;
    const started = Date.now();
    const error = await deployer(target).run(trigger, { deadline: () => end - Date.now() }).catch((e: unknown) => e);
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
