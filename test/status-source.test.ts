// What GET /status reads through: its own source (the target and the state ConfigMap alone), or, locally,
// the in-process worker's deployer when one runs in the same process (npm run serve), so that the
// outcomes it holds in memory show too; a status function alone in its process loads neither the
// in-process runtime nor a deployer (test/bundles.test.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { statusSource } from '../handlers/status.js';
import { localRuntime } from '../src/app/local-runtime.js';
import { silentLogger } from '../src/log.js';
import { loadSettings } from '../src/settings/settings.js';
import { configCommand } from '../bench/events.js';

const dir = mkdtempSync(join(tmpdir(), 'kfm-status-source-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const settingsFor = (extra: Record<string, string> = {}) => loadSettings({ KFM_TARGET: `dir:${dir}`, KFM_OFFLINE: 'true', ...extra });

describe('statusSource', () => {
  it('without a queue, reads through the local runtime of the same settings once it runs, asked on every call', async () => {
    const settings = settingsFor();
    const source = statusSource(settings, silentLogger);
    const own = await source();
    expect(own).toBe(await source()); // its own, kept
    const shared = await localRuntime(settings, silentLogger).deployer(); // intake's first request starts it
    expect(shared).not.toBe(own);
    expect(await source()).toBe(shared);
  });

  it("another settings object's local runtime is not this one's", async () => {
    const settings = settingsFor();
    const other = await localRuntime(settingsFor(), silentLogger).deployer();
    const source = statusSource(settings, silentLogger);
    expect(await source()).toBe(await source());
    expect(await source()).not.toBe(other);
  });

  it('with a queue (Lambda), always its own', async () => {
    const settings = settingsFor({ KFM_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/kfm.fifo', AWS_REGION: 'eu-west-1' });
    const source = statusSource(settings, silentLogger);
    const own = await source();
    const local = await localRuntime(settings, silentLogger).deployer();
    expect(await source()).toBe(own);
    expect(own).not.toBe(local);
  });

  it('its own source answers what the deployer answers from the stored state (no held outcomes: none run here)', async () => {
    const settings = settingsFor();
    const runtime = localRuntime(settings, silentLogger);
    const source = statusSource(loadSettings({ KFM_TARGET: `dir:${dir}`, KFM_OFFLINE: 'true' }), silentLogger); // another process's view
    const before = await (await source()).status();
    expect(before.recent).toEqual([]);
    await runtime.queue.send({ groupId: 'kubeflow/kubeflow-metadata', deduplicationId: 'status-source-1', body: JSON.stringify(configCommand(1, { port: 9191, mysql: false })) });
    await runtime.queue.drain();
    const view = await (await source()).status();
    expect(view).toEqual(await (await runtime.deployer()).status());
    expect(view.config.port).toBe(9191);
    expect(view.recent.map((r) => [r.id, r.outcome])).toEqual([['config-bench-1', 'applied']]);
  });
});
