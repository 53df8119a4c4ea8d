import { readFileSync } from 'node:fs';
import { failure, SAMPLE_DIGEST } from '../support/payload-samples.js';
import { describe, expect, it } from '@jest/globals';
import { parseGhcr } from '../../src/registry/payloads/ghcr.js';

const sampleEvent = JSON.parse(readFileSync(new URL('../../events/push-ghcr.json', import.meta.url), 'utf8')) as {
  headers: Record<string, string>;
  body: string;
};
type Version = Record<string, unknown> & { container_metadata: { tag: Record<string, unknown> } };
type Package = Record<string, unknown> & { package_version: Version };
type Body = Record<string, unknown> & { registry_package: Package };
const sample = JSON.parse(sampleEvent.body) as Body;
const headers = { 'x-github-event': 'registry_package' };
const DIGEST = SAMPLE_DIGEST;
const OTHER = `sha256:${'d'.repeat(64)}`;
const expected = {
  provider: 'ghcr',
  registry: 'ghcr.io',
  repository: 'kubeflow-images-public/metadata',
  tag: 'v0.1.9',
  digest: DIGEST,
  pushedAt: '2026-01-01T12:00:00.000Z',
};
const pkg = sample.registry_package;
/** The sample with package fields / version fields / the container tag replaced. */
function variant(fields: Record<string, unknown>, version: Record<string, unknown> = {}, tag?: Record<string, unknown>): Body {
  const container = tag === undefined ? pkg.package_version.container_metadata : { ...pkg.package_version.container_metadata, tag };
  return {
    ...sample,
    registry_package: { ...pkg, package_version: { ...pkg.package_version, container_metadata: container, ...version }, ...fields },
  };
}


describe('parseGhcr', () => {
  it('normalises the sample registry_package event', () => {
    expect(sampleEvent.headers['x-github-event']).toBe('registry_package');
    expect(parseGhcr(sample, headers)).toStrictEqual({ events: [expected], ignored: [] });
  });

  it('reads the tag from container_metadata, never from version/name (they hold the digest)', () => {
    const body = variant({}, { version: OTHER, name: OTHER }, { name: 'v2', digest: DIGEST });
    expect(parseGhcr(body, headers).events[0]).toMatchObject({ tag: 'v2', digest: DIGEST });
  });

  it('falls back to version for the digest, and reads an empty tag name as tagless', () => {
    const body = variant({}, { version: OTHER }, { name: '' });
    const { tag: _, ...rest } = expected;
    expect(parseGhcr(body, headers).events).toStrictEqual([{ ...rest, digest: OTHER }]);
  });

  it('ignores a version that is not a digest as a fallback', () => {
    const body = variant({}, { version: 'v0.1.9' }, { name: 'v0.1.9' });
    expect(parseGhcr(body, headers).events[0]).not.toHaveProperty('digest');
  });

  it('reads the older `package` event (package_type container, owner.login, lower-cased)', () => {
    const { registry_package: _, ...rest } = sample;
    const { namespace: __, ...withoutNamespace } = pkg;
    const body = {
      ...rest,
      package: { ...withoutNamespace, name: 'Metadata', package_type: 'container', ecosystem: undefined, owner: { login: 'Kubeflow-Images-Public' } },
    };
    expect(parseGhcr(body, { 'x-github-event': 'package' })).toStrictEqual({ events: [expected], ignored: [] });
  });

  it('takes the namespace from the repository owner when the package names none', () => {
    const body = variant({ namespace: undefined, owner: null });
    expect(parseGhcr({ ...body, repository: { owner: { login: 'someone-else' } } }, headers).events[0]?.repository).toBe(
      'someone-else/metadata',
    );
  });

  it('works without the X-GitHub-Event header', () => {
    expect(parseGhcr(sample, {}).events).toStrictEqual([expected]);
  });

  it.each(['updated', 'deleted'])('ignores action %s', (action) => {
    expect(parseGhcr({ ...sample, action }, headers)).toStrictEqual({ events: [], ignored: [`ghcr: action ${action}`] });
  });

  it.each([
    [{ package_type: 'npm', ecosystem: 'npm' }, 'ghcr: package type npm'],
    [{ package_type: undefined, ecosystem: 'RUBYGEMS' }, 'ghcr: package type rubygems'],
  ])('ignores non-container packages %p', (fields, reason) => {
    expect(parseGhcr(variant({ ...fields, package_version: 'not validated' }), headers)).toStrictEqual({
      events: [],
      ignored: [reason],
    });
  });

  it('ignores ping and other GitHub events', () => {
    expect(parseGhcr({ zen: 'Design for failure.', hook_id: 1 }, { 'x-github-event': 'ping' })).toStrictEqual({
      events: [],
      ignored: ['ghcr: event ping'],
    });
    expect(parseGhcr({}, { 'x-github-event': 'push\n<script>' }).ignored).toStrictEqual(['ghcr: event (unrecognised)']);
  });

  it.each([
    ['a missing action', { registry_package: pkg }, 'action'],
    ['no package object', { action: 'published' }, 'registry_package'],
    ['a missing package_version', variant({ package_version: undefined }), 'registry_package.package_version'],
    ['a bad tag name', variant({}, {}, { name: 'v1:x', digest: DIGEST }), 'registry_package.package_version.container_metadata.tag.name'],
    ['a numeric tag name', variant({}, {}, { name: 1, digest: DIGEST }), 'registry_package.package_version.container_metadata.tag.name'],
    ['a bad tag digest', variant({}, {}, { name: 'v1', digest: 'sha256:0' }), 'registry_package.package_version.container_metadata.tag.digest'],
    [
      'no tag and no digest',
      variant({}, { version: 'v1' }, { name: '' }),
      'registry_package.package_version.container_metadata.tag.digest',
    ],
    ['a bad namespace', variant({ namespace: 'a b' }), 'registry_package.namespace'],
    ['no namespace at all', { ...variant({ namespace: undefined, owner: undefined }), repository: {} }, 'registry_package.namespace'],
    ['a name making the repository too long', variant({ name: 'n'.repeat(250) }), 'registry_package.name'],
    ['a bad updated_at', variant({}, { updated_at: 'soon' }), 'registry_package.package_version.updated_at'],
  ])('rejects %s with a 400 naming the field', (_, body, field) => {
    const error = failure(() => parseGhcr(body, headers));
    expect(error.statusCode).toBe(400);
    expect(error.field).toBe(field);
  });

  it('names the `package` path for the package event', () => {
    const body = { action: 'published', package: { name: 'metadata', package_version: { container_metadata: { tag: { name: '?' } } } } };
    expect(failure(() => parseGhcr(body, { 'x-github-event': 'package' })).field).toBe(
      'package.package_version.container_metadata.tag.name',
    );
  });

  it.each([null, [], 'published'])('rejects a body that is not an object (%p), even for ping', (body) => {
    expect(failure(() => parseGhcr(body, { 'x-github-event': 'ping' }))).toMatchObject({ statusCode: 400, field: 'body' });
  });
});
