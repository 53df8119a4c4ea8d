import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createDeployer, type Deployer } from '../src/app/deployer.js';
import { isScheduledEvent } from '../src/app/scheduled-refresh.js';
import { createDirectoryTarget } from '../src/targets/directory.js';
import { parseImageRef } from '../src/image/reference.js';
import { parseTagPolicy } from '../src/policy/tag-policy.js';
import { silentLogger } from '../src/log.js';
import type { FetchRequest, ResourceFetcher } from '../src/resource/port.js';
import type { Target } from '../src/targets/port.js';
import { readFileSync } from 'node:fs';

const image = parseImageRef('123456789012.dkr.ecr.eu-west-1.amazonaws.com/kubeflow/metadata:v1');
// What the registry says now: the test moves the tag and rotates the token.
const registry = { digest: `sha256:${'1'.repeat(64)}`, password: 'ecr-token-1', fail: false };
const requests: FetchRequest[] = [];
const fetcher: ResourceFetcher = {
  async fetch(request) {
    requests.push(request);
    if (registry.fail) throw new (await import('../src/errors.js')).FetchError('registry unreachable');
    return { registryPath: `${image.registry}/${image.repository}@${registry.digest}`, digest: registry.digest, tag: request.tag, credentials: { username: 'AWS', password: registry.password } };
  },
};

let dir: string;
let target: Target;
let deployer: Deployer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kfm-refresh-'));
  target = createDirectoryTarget({ path: dir, namespace: 'kubeflow' });
  deployer = createDeployer({ app: 'kubeflow-metadata', namespace: 'kubeflow', image, tagPolicy: parseTagPolicy('track', 'v1'), setStatus: true, target, fetcher, logger: silentLogger });
  await deployer.run({ hook: 'config-changed', mysql: { host: 'mysql', port: 3306, user: 'root', password: 'pw' } });
});
afterAll(async () => { await rm(dir, { recursive: true, force: true }); });

const pullPassword = async () => {
  const secret = await target.read({ kind: 'Secret', name: 'kubeflow-metadata-registry' });
  return JSON.parse(Buffer.from((secret!.data as any)['.dockerconfigjson'], 'base64').toString()).auths[image.registry].password;
};
const deployed = async () => ((await target.read({ kind: 'Deployment', name: 'kubeflow-metadata' }))!.spec as any).template.spec.containers[0].image;

describe('scheduled refresh', () => {
  it('recognises EventBridge scheduled events only', () => {
    expect(isScheduledEvent(JSON.parse(readFileSync(new URL('../events/refresh.json', import.meta.url), 'utf8')))).toBe(true);
    expect(isScheduledEvent({ source: 'aws.ecr', 'detail-type': 'ECR Image Action' })).toBe(false);
    expect(isScheduledEvent(null)).toBe(false);
  });

  it('renews the pull Secret with a new token and leaves the workload alone otherwise', async () => {
    expect(await pullPassword()).toBe('ecr-token-1');
    registry.password = 'ecr-token-2';
    const report = await deployer.run({ hook: 'upgrade-charm' });
    expect(requests.at(-1)).toMatchObject({ tag: 'v1', digest: undefined });
    expect(report.changes).toContainEqual({ kind: 'Secret', name: 'kubeflow-metadata-registry', outcome: 'patched' });
    expect(await pullPassword()).toBe('ecr-token-2');
    expect(await deployed()).toBe(`${image.registry}/${image.repository}@${registry.digest}`);
    expect(report.status).toEqual({ state: 'active', message: '' });
  });

  it('rolls to the digest the tracked tag points at now (a lost webhook)', async () => {
    registry.digest = `sha256:${'2'.repeat(64)}`;
    await deployer.run({ hook: 'upgrade-charm' });
    expect(await deployed()).toBe(`${image.registry}/${image.repository}@${registry.digest}`);
  });

  it('reports a failed refresh as blocked without touching the workload, and recovers', async () => {
    const before = await deployed();
    registry.fail = true;
    const failed = await deployer.run({ hook: 'upgrade-charm' });
    expect(failed.status).toEqual({ state: 'blocked', message: 'unable to fetch resource: oci-image' });
    expect(failed.outcome).toBe('failed'); // transient: the queue delivers the tick again
    expect(failed.failures['oci-image']).toBe('registry unreachable');
    expect(await deployed()).toBe(before);
    registry.fail = false;
    const recovered = await deployer.run({ hook: 'upgrade-charm' });
    expect(recovered).toMatchObject({ outcome: 'applied', status: { state: 'active', message: '' } });
  });
});
