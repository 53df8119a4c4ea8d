// Issue 12 §7: a push whose payload names another registry than KFM_IMAGE's is not for this
// deployer: intake answers it 202 {"ignored": reason} and queues nothing (the worker's filter is
// the same function). Distribution names the registry in `request.host`, as ACR does; hosts
// compare without case, without the scheme's default port, and with Docker Hub's aliases as one.
import { describe, expect, it } from '@jest/globals';
import type { ParsedPushes, PushEvent } from '../../src/domain/types.js';
import { parseImageRef, registryKey, sameRegistry } from '../../src/image/reference.js';
import { pushCommand } from '../../src/intake/commands.js';
import { pushMismatch } from '../../src/policy/push-filter.js';
import { parseTagPolicy } from '../../src/policy/tag-policy.js';
import { parsePushWebhook } from '../../src/registry/payloads/index.js';
import { sampleBody } from '../support/payload-samples.js';

const DIGEST = `sha256:${'c'.repeat(64)}`;
const REPO = 'kubeflow/metadata';
const intake = (kfmImage: string, parsed: ParsedPushes) => {
  const image = parseImageRef(kfmImage);
  return pushCommand(parsed, { image, tagPolicy: parseTagPolicy('track', image.tag), now: new Date('2030-01-01T00:00:00Z') });
};
/** A distribution notification for one manifest push, as the registry sends it, with `request.host`. */
const distribution = (host: string | undefined) => ({
  events: [{
    id: 'e1', timestamp: '2030-01-01T00:00:00Z', action: 'push',
    target: { mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 500, digest: DIGEST, repository: REPO, tag: 'v1', url: `http://${host ?? 'x'}/v2/${REPO}/manifests/${DIGEST}` },
    request: { id: 'r1', addr: '10.0.0.5:44652', ...(host === undefined ? {} : { host }), method: 'PUT', useragent: 'docker/27.0.3' },
    actor: { name: 'ci' }, source: { addr: 'registry-0:5000', instanceID: 'i' },
  }],
});
const pushFrom = (host: string | undefined) => parsePushWebhook('distribution', distribution(host), {});

describe('sameRegistry / registryKey (src/image/reference.ts)', () => {
  it.each([
    ['registry.example:443', 'registry.example'],
    ['registry.example:80', 'registry.example'],
    ['https://Registry.Example/', 'registry.example:443'],
    ['REGISTRY.EXAMPLE:5000', 'registry.example:5000'],
    ['127.0.0.1:5000', '127.0.0.1:5000'],
    ['[::1]:443', '[::1]'],
    ['index.docker.io', 'docker.io'],
    ['registry-1.docker.io:443', 'docker.io'],
    ['registry.hub.docker.com', 'index.docker.io'],
  ])('%s is %s', (a, b) => {
    expect(sameRegistry(a, b)).toBe(true);
    expect(sameRegistry(b, a)).toBe(true);
  });

  it.each([
    ['registry.example:5000', 'registry.example'],
    ['registry.example:4430', 'registry.example'],
    ['registry.example:8443', 'registry.example:443'],
    ['127.0.0.1:5001', '127.0.0.1:5000'],
    ['localhost:5000', '127.0.0.1:5000'],
    ['eu.gcr.io', 'gcr.io'],
    ['gcr.io.evil.example', 'gcr.io'],
    ['docker.io.evil.example', 'docker.io'],
    ['[::1]:5000', '[::1]'],
  ])('%s is not %s', (a, b) => {
    expect(sameRegistry(a, b)).toBe(false);
    expect(sameRegistry(b, a)).toBe(false);
  });

  it('leaves a colon that is not a port alone (an unbracketed IPv6 literal is not shortened)', () => {
    expect(registryKey('::80')).toBe('::80');
  });
});

describe('a distribution notification at intake', () => {
  it('from KFM_IMAGE\'s registry at 127.0.0.1:<port> (how the e2e registry suites run): queued', () => {
    const accepted = intake(`127.0.0.1:41234/${REPO}:v1`, pushFrom('127.0.0.1:41234'));
    expect(accepted.command).toMatchObject({ kind: 'push', pushes: [{ provider: 'distribution', registry: '127.0.0.1:41234', repository: REPO, tag: 'v1', digest: DIGEST }] });
  });

  it.each([
    ['another host', 'evil.example:5000', `127.0.0.1:41234/${REPO}:v1`, 'registry evil.example:5000 is not 127.0.0.1:41234'],
    ['another port of the same host', '127.0.0.1:41235', `127.0.0.1:41234/${REPO}:v1`, 'registry 127.0.0.1:41235 is not 127.0.0.1:41234'],
    ['localhost for 127.0.0.1', 'localhost:41234', `127.0.0.1:41234/${REPO}:v1`, 'registry localhost:41234 is not 127.0.0.1:41234'],
    ['Docker Hub for another registry', 'registry-1.docker.io', `gcr.io/${REPO}:v1`, 'registry docker.io is not gcr.io'],
    ['a look-alike of the registry', 'gcr.io.evil.example', `gcr.io/${REPO}:v1`, 'registry gcr.io.evil.example is not gcr.io'],
  ])('from %s: ignored with the reason, nothing queued', (_, host, image, reason) => {
    const accepted = intake(image, pushFrom(host));
    expect(accepted.command).toBeUndefined();
    expect(accepted.ignored).toEqual([`${REPO}:v1: ${reason}`]);
  });

  it.each([
    ['the default port written out', 'registry.example:443', `registry.example/${REPO}:v1`],
    ['the default port left out', 'registry.example', `registry.example:443/${REPO}:v1`],
    ['another case', 'Registry.EXAMPLE:5000', `registry.example:5000/${REPO}:v1`],
    ['a Docker Hub alias', 'index.docker.io', `docker.io/${REPO}:v1`],
  ])('from the registry with %s: queued', (_, host, image) => {
    expect(intake(image, pushFrom(host)).command).toMatchObject({ kind: 'push' });
  });

  it('without request.host, or with an empty one (the payload names no registry): queued', () => {
    expect(intake(`registry.example/${REPO}:v1`, pushFrom(undefined)).command).toMatchObject({ kind: 'push' });
    expect(intake(`registry.example/${REPO}:v1`, pushFrom('')).command).toMatchObject({ kind: 'push' });
  });

  it('whose request.host is no host name: ignored, the text not echoed', () => {
    const accepted = intake(`registry.example/${REPO}:v1`, pushFrom('registry.example/../../evil'));
    expect(accepted).toEqual({ ignored: ['events[0]: request.host is not a registry host name'] });
  });

  it('the same push redelivered has the same identity; from another host it is never queued at all', () => {
    const image = `registry.example:5000/${REPO}:v1`;
    const first = intake(image, pushFrom('registry.example:5000'));
    expect(intake(image, pushFrom('registry.example:5000')).command?.id).toBe(first.command?.id);
    expect(intake(image, pushFrom('mirror.example:5000')).command).toBeUndefined();
  });

  it('the sample (events/push-distribution.json) is queued only for the registry it names', () => {
    const sample = sampleBody<{ events: Array<{ request: { host: string }; target: { repository: string; tag: string } }> }>('push-distribution.json');
    const { request: { host }, target: { repository, tag } } = sample.events[0]!;
    const parsed = parsePushWebhook('distribution', sample, {});
    expect(intake(`${host}/${repository}:${tag}`, parsed).command).toMatchObject({ kind: 'push', pushes: [{ registry: host }] });
    expect(intake(`elsewhere.example/${repository}:${tag}`, parsed).command).toBeUndefined();
  });
});

describe('the filter (src/policy/push-filter.ts) is the same for every format that names its registry', () => {
  const image = parseImageRef(`registry.example/${REPO}:v1`);
  const policy = parseTagPolicy('track', 'v1');
  const event = (registry: string): PushEvent => ({ provider: 'acr', registry, repository: REPO, tag: 'v1' });
  it('ACR\'s request.host with the default port: for KFM_IMAGE', () => {
    expect(pushMismatch(event('registry.example:443'), image, policy)).toBeUndefined();
  });
  it('another registry: the reason names both', () => {
    expect(pushMismatch(event('other.example'), image, policy)).toBe(`${REPO}:v1: registry other.example is not registry.example`);
  });
  it('Docker Hub official images: `library/` whichever alias the payload names', () => {
    const hub = parseImageRef('docker.io/ubuntu:v1');
    expect(pushMismatch({ provider: 'dockerhub', registry: 'index.docker.io:443', repository: 'ubuntu', tag: 'v1' }, hub, policy)).toBeUndefined();
  });
});
