// Issue 10 item 4: the scheduled refresh follows the policy. Under semver: or regex: it lists the
// repository's tags (GET /v2/<repo>/tags/list, page by page) on a real CNCF distribution registry and
// deploys the newest allowed one, so a push whose webhook was lost is still deployed; under track it
// re-resolves the tracked tag; it never goes back to an older version.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { pushImage, startRegistry, type TestRegistry } from './support/registry.js';
import { watchSecrets } from './support/leak-guard.js';
import { createRegistryClient } from '../src/registry/client.js';
import { createRegistryFetcher } from '../src/resource/registry-fetcher.js';
import { createStaticCredentials } from '../src/resource/credentials/static.js';
import { createDirectoryTarget } from '../src/targets/directory.js';
import { createDeployer } from '../src/app/deployer.js';
import { parseImageRef } from '../src/image/reference.js';
import { parseTagPolicy, refreshTag } from '../src/policy/tag-policy.js';
import { silentLogger } from '../src/log.js';

const AUTH = { username: 'refresh-robot', password: 'refresh-registry-password' };
const MYSQL = { host: 'mysql', port: 3306, user: 'root', password: 'refresh-mysql-password' };
watchSecrets(AUTH.password, MYSQL.password);
const REPOSITORY = 'kubeflow/metadata';
let registry: TestRegistry;
let dir: string;
const digests: Record<string, string> = {};

beforeAll(async () => {
  registry = await startRegistry({ auth: AUTH });
  for (const tag of ['v1.0.0', 'v1.1.0', 'v2.0.0', 'nightly', 'v1.0.1']) {
    digests[tag] = await pushImage(registry, { repository: REPOSITORY, tag, mediaType: 'oci' });
  }
  dir = await mkdtemp(join(tmpdir(), 'kfm-refresh-'));
});
afterAll(async () => {
  await registry?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe('tags/list', () => {
  it('follows the Link header page by page and returns every tag', async () => {
    const client = createRegistryClient({ tagsPageSize: 2 });
    const tags = await client.listTags({ registry: registry.host, repository: REPOSITORY }, { credentials: AUTH });
    expect([...tags].sort()).toEqual(['nightly', 'v1.0.0', 'v1.0.1', 'v1.1.0', 'v2.0.0']);
  });

  it('names the credentials when the registry refuses them', async () => {
    const client = createRegistryClient();
    await expect(client.listTags({ registry: registry.host, repository: REPOSITORY }, { credentials: { ...AUTH, password: 'wrong-password-123' } }))
      .rejects.toThrow(/401.*KFM_REGISTRY_AUTH/);
  });
});

describe('the scheduled refresh', () => {
  const image = () => parseImageRef(`${registry.host}/${REPOSITORY}:v1.0.0`);
  const deployerFor = (policy: string, path: string) => createDeployer({
    app: 'kubeflow-metadata', namespace: 'kubeflow', image: image(), tagPolicy: parseTagPolicy(policy, 'v1.0.0'), setStatus: true,
    target: createDirectoryTarget({ path, namespace: 'kubeflow' }),
    fetcher: createRegistryFetcher({ credentials: createStaticCredentials({ [registry.host]: AUTH }) }),
    logger: silentLogger,
  });
  const runningImage = async (path: string) =>
    ((await createDirectoryTarget({ path, namespace: 'kubeflow' }).read({ kind: 'Deployment', name: 'kubeflow-metadata' })) as any)
      ?.spec.template.spec.containers[0].image as string | undefined;

  it('under semver:^1 deploys the newest allowed tag whose webhook was lost, never one outside the range', async () => {
    const path = join(dir, 'semver');
    const deployer = deployerFor('semver:^1', path);
    await deployer.run({ hook: 'config-changed', mysql: MYSQL });
    await deployer.run({ hook: 'upgrade-charm', pushes: [{ provider: 'generic', repository: REPOSITORY, tag: 'v1.0.0', digest: digests['v1.0.0'] }] });
    expect(await runningImage(path)).toBe(`${registry.host}/${REPOSITORY}@${digests['v1.0.0']}`);
    // v1.1.0 was pushed with no webhook delivered; the refresh finds it (v2.0.0 is outside ^1).
    const report = await deployer.run({ hook: 'upgrade-charm' });
    expect(report.outcome).toBe('applied');
    expect(report.resources['oci-image']).toMatchObject({ tag: 'v1.1.0', digest: digests['v1.1.0'] });
    expect(await runningImage(path)).toBe(`${registry.host}/${REPOSITORY}@${digests['v1.1.0']}`);
    // Nothing newer: the next refresh re-resolves v1.1.0 and writes nothing.
    const again = await deployer.run({ hook: 'upgrade-charm' });
    expect(again.changes).toEqual([]);
  });

  it('under track re-resolves the tracked tag: a new digest for it is deployed', async () => {
    const path = join(dir, 'track');
    const deployer = deployerFor('track', path);
    await deployer.run({ hook: 'config-changed', mysql: MYSQL });
    expect(await runningImage(path)).toBe(`${registry.host}/${REPOSITORY}@${digests['v1.0.0']}`);
    const moved = await pushImage(registry, { repository: REPOSITORY, tag: 'v1.0.0', mediaType: 'oci' });
    await deployer.run({ hook: 'upgrade-charm' });
    expect(await runningImage(path)).toBe(`${registry.host}/${REPOSITORY}@${moved}`);
  });
});

describe('refreshTag', () => {
  const semver = parseTagPolicy('semver:^1', 'v1.0.0');
  it.each([
    [['v1.0.0', 'v1.2.0', 'v1.10.0', 'v2.0.0'], 'v1.0.0', 'v1.10.0'],
    [['v1.0.0'], 'v1.3.0', 'v1.3.0'], // the deployed one is newer than anything listed: never back
    [[], 'v1.3.0', 'v1.3.0'],
    [['v1.2.0', 'junk'], undefined, 'v1.2.0'],
  ])('semver:^1 over %j with %s deployed → %s', (tags, deployed, expected) => {
    expect(refreshTag(semver, tags, deployed)).toBe(expected);
  });
  it('regex orders naturally (build-10 after build-9); track keeps its tag', () => {
    expect(refreshTag(parseTagPolicy('regex:build-\\d+', 'x'), ['build-9', 'build-10', 'other'], 'build-2')).toBe('build-10');
    expect(refreshTag(parseTagPolicy('track', 'stable'), ['a', 'b'], 'stable')).toBe('stable');
  });
});
