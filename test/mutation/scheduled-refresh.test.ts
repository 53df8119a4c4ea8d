// src/app/scheduled-refresh.ts: which EventBridge events are the schedule, and the refresh step.
import { describe, expect, it } from '@jest/globals';
import { createDeployer } from '../../src/app/deployer.js';
import { isScheduledEvent, refreshResource } from '../../src/app/scheduled-refresh.js';
import { parseImageRef } from '../../src/image/reference.js';
import type { Logger } from '../../src/log.js';
import { parseTagPolicy } from '../../src/policy/tag-policy.js';
import { memoryTarget } from './support/memory-target.js';

describe('isScheduledEvent', () => {
  it('needs both source aws.events and detail-type Scheduled Event', () => {
    expect(isScheduledEvent({ source: 'aws.events', 'detail-type': 'Scheduled Event' })).toBe(true);
    expect(isScheduledEvent({ source: 'aws.events', 'detail-type': 'ECR Image Action' })).toBe(false);
    expect(isScheduledEvent({ source: 'aws.ecr', 'detail-type': 'Scheduled Event' })).toBe(false);
    expect(isScheduledEvent({ 'detail-type': 'Scheduled Event' })).toBe(false);
  });

  it('is false for anything that is not an object', () => {
    for (const value of [null, undefined, 'aws.events', 42, true]) expect(isScheduledEvent(value)).toBe(false);
  });
});

describe('refreshResource', () => {
  it('runs an upgrade-charm step without pushes (the deployed tag) and logs what it did', async () => {
    const image = parseImageRef('registry.example/kubeflow/metadata:v1');
    const requests: unknown[] = [];
    const lines: Array<[string, Record<string, unknown> | undefined]> = [];
    const logger: Logger = { info: (m, f) => void lines.push([m, f]), warn: () => undefined, error: () => undefined, withCorrelation: () => undefined };
    const deployer = createDeployer({
      app: 'kubeflow-metadata', namespace: 'kubeflow', image, tagPolicy: parseTagPolicy('track', 'v1'), setStatus: true, target: memoryTarget(), logger,
      fetcher: { async fetch(request) { requests.push(request); return { registryPath: `registry.example/kubeflow/metadata@sha256:${'1'.repeat(64)}`, digest: `sha256:${'1'.repeat(64)}`, tag: request.tag }; } },
    });
    await deployer.run({ hook: 'config-changed', mysql: { host: 'mysql', port: 3306, user: 'root', password: 'refresh-pw' } });
    const report = await refreshResource(deployer, logger);
    expect(report.outcome).toBe('applied');
    expect(requests.at(-1)).toMatchObject({ tag: 'v1', digest: undefined });
    expect(lines.at(-1)).toEqual(['scheduled refresh', { status: report.status, changes: report.changes, failures: report.failures }]);
  });

  it('renews the pull Secret with a rotated token, and leaves the Deployment alone', async () => {
    const image = parseImageRef('registry.example/kubeflow/metadata:v1');
    const digest = `sha256:${'2'.repeat(64)}`;
    let password = 'token-1';
    const target = memoryTarget();
    const logger: Logger = { info: () => undefined, warn: () => undefined, error: () => undefined, withCorrelation: () => undefined };
    const deployer = createDeployer({
      app: 'kubeflow-metadata', namespace: 'kubeflow', image, tagPolicy: parseTagPolicy('track', 'v1'), setStatus: true, target, logger,
      fetcher: { async fetch(request) { return { registryPath: `registry.example/kubeflow/metadata@${digest}`, digest, tag: request.tag, credentials: { username: 'robot', password } }; } },
    });
    await deployer.run({ hook: 'config-changed', mysql: { host: 'mysql', port: 3306, user: 'root', password: 'refresh-pw' } });
    const pullPassword = () => {
      const secret = target.get('Secret', 'kubeflow-metadata-registry');
      return JSON.parse(Buffer.from((secret!.data as Record<string, string>)['.dockerconfigjson']!, 'base64').toString()).auths['registry.example'].password;
    };
    expect(pullPassword()).toBe('token-1');
    const image1 = (target.get('Deployment', 'kubeflow-metadata')!.spec as any).template.spec.containers[0].image;
    password = 'token-2';
    const report = await refreshResource(deployer, logger);
    expect(report.changes).toContainEqual({ kind: 'Secret', name: 'kubeflow-metadata-registry', outcome: 'patched' });
    expect(pullPassword()).toBe('token-2');
    expect((target.get('Deployment', 'kubeflow-metadata')!.spec as any).template.spec.containers[0].image).toBe(image1);
  });
});
