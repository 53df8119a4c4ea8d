// Which deployer GET /status reads through: its own, or, locally, the in-process worker's when one runs in
// the same process (npm run serve), so that the outcomes it holds in memory show too; and a status
// function alone in its process does not load the in-process runtime to find out (test/bundles.test.ts).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { statusDeployer } from '../handlers/status.js';
import { localRuntime } from '../src/app/local-runtime.js';
import { silentLogger } from '../src/log.js';
import { loadSettings } from '../src/settings/settings.js';

const dir = mkdtempSync(join(tmpdir(), 'kfm-status-deployer-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const settingsFor = (extra: Record<string, string> = {}) => loadSettings({ KFM_TARGET: `dir:${dir}`, KFM_OFFLINE: 'true', ...extra });

describe('statusDeployer', () => {
  it('without a queue, reads through the local runtime of the same settings once it runs, asked on every call', async () => {
    const settings = settingsFor();
    const deployer = statusDeployer(settings, silentLogger);
    const before = await deployer();
    expect(before).toBe(await deployer()); // its own, kept
    const local = localRuntime(settings, silentLogger); // intake's first request starts it
    const shared = await local.deployer();
    expect(shared).not.toBe(before);
    expect(await deployer()).toBe(shared);
  });

  it("another settings object's local runtime is not this one's", async () => {
    const settings = settingsFor();
    localRuntime(settingsFor(), silentLogger);
    const deployer = statusDeployer(settings, silentLogger);
    expect(await deployer()).toBe(await deployer());
    expect(await deployer()).not.toBe(await localRuntime(settingsFor(), silentLogger).deployer());
  });

  it('with a queue (Lambda), always its own', async () => {
    const settings = settingsFor({ KFM_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/kfm.fifo', AWS_REGION: 'eu-west-1' });
    const deployer = statusDeployer(settings, silentLogger);
    const own = await deployer();
    const local = await localRuntime(settings, silentLogger).deployer();
    expect(await deployer()).toBe(own);
    expect(own).not.toBe(local);
  });
});
