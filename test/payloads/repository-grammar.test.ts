// Issue 12 §7: a repository name outside the OCI distribution grammar
// (`[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*`, at most 255 characters)
// is a bogus event in every format: a 400 naming the field, never "another repository" (a 202), never
// a 5xx, nothing queued. The names below are the ones a looser check (letters, digits, `._-/`) let through.
import { describe, expect, it } from '@jest/globals';
import { MAX_REPOSITORY_LENGTH, parseImageRef, REPOSITORY } from '../../src/image/reference.js';
import { pushCommand } from '../../src/intake/commands.js';
import { parseTagPolicy } from '../../src/policy/tag-policy.js';
import { parseEcrEvent, parsePushWebhook, WEBHOOK_PROVIDERS } from '../../src/registry/payloads/index.js';
import type { ParsedPushes } from '../../src/domain/types.js';
import { failure, sampleBody } from '../support/payload-samples.js';

type Json = Record<string, any>;
/** Each format's sample, where its repository is, and the field a 400 names. */
const FORMATS: Array<{ provider: string; sample: Json; set: (body: Json, name: string) => void; field: string; parse: (body: unknown) => ParsedPushes }> = [
  { provider: 'distribution', sample: sampleBody('push-distribution.json'), set: (b, n) => void (b.events[0].target.repository = n), field: 'events[0].target.repository', parse: (b) => parsePushWebhook('distribution', b, {}) },
  { provider: 'dockerhub', sample: sampleBody('push-dockerhub.json'), set: (b, n) => void (b.repository.repo_name = n), field: 'repository.repo_name', parse: (b) => parsePushWebhook('dockerhub', b, {}) },
  { provider: 'harbor', sample: sampleBody('push-harbor.json'), set: (b, n) => void (b.event_data.repository.repo_full_name = n), field: 'event_data.repository.repo_full_name', parse: (b) => parsePushWebhook('harbor', b, {}) },
  { provider: 'quay', sample: sampleBody('push-quay.json'), set: (b, n) => void (b.repository = n), field: 'repository', parse: (b) => parsePushWebhook('quay', b, {}) },
  { provider: 'acr', sample: sampleBody('push-acr.json'), set: (b, n) => void (b.target.repository = n), field: 'target.repository', parse: (b) => parsePushWebhook('acr', b, {}) },
  // GHCR's repository is `<namespace>/<name>`, lower-cased as GHCR does.
  { provider: 'ghcr', sample: sampleBody('push-ghcr.json'), set: (b, n) => void (b.registry_package.name = n.split('/').slice(1).join('/')), field: 'registry_package.name', parse: (b) => parsePushWebhook('ghcr', b, {}) },
  { provider: 'generic', sample: sampleBody('push-generic.json'), set: (b, n) => void (b.repository = n), field: 'repository', parse: (b) => parsePushWebhook('generic', b, {}) },
  { provider: 'ecr', sample: sampleBody('push-ecr.json'), set: (b, n) => void (b.detail['repository-name'] = n), field: 'detail.repository-name', parse: (b) => parseEcrEvent(b) },
];

/** Names outside the grammar, each with the namespace GHCR's sample has (so only the rest decides). */
const ns = (FORMATS.find((f) => f.provider === 'ghcr')!.sample.registry_package.namespace as string).toLowerCase();
const INVALID: Array<[string, string]> = [
  ['an empty path component', `${ns}//metadata`],
  ['a trailing slash', `${ns}/metadata/`],
  ['a trailing dot', `${ns}/metadata.`],
  ['a component starting with a separator', `${ns}/-metadata`],
  ['three underscores', `${ns}/meta___data`],
  ['a dot next to a dash', `${ns}/meta.-data`],
  ['a component that is only a separator', `${ns}/./metadata`],
  ['a path traversal', `${ns}/../../etc/passwd`],
  [`${MAX_REPOSITORY_LENGTH + 1} characters`, `${ns}/${'m'.repeat(MAX_REPOSITORY_LENGTH - ns.length)}`],
];
/** Upper case is outside the grammar too; GHCR alone lower-cases (its names may be mixed case). */
const UPPER = `${ns}/Metadata`;
/** Inside the grammar: every separator, and exactly 255 characters. */
const VALID = [`${ns}/meta.data_x__y--z-w/sub`, `${ns}/${'m'.repeat(MAX_REPOSITORY_LENGTH - ns.length - 1)}`];

const withName = (format: (typeof FORMATS)[number], name: string): Json => {
  const body = structuredClone(format.sample);
  format.set(body, name);
  return body;
};

describe('the grammar is defined once (src/image/reference.ts), the one KFM_IMAGE is checked against', () => {
  it.each(INVALID)('refuses %s', (_, name) => {
    expect(REPOSITORY.test(name) && name.length <= MAX_REPOSITORY_LENGTH).toBe(false);
    // KFM_IMAGE: the grammar (parseImageRef does not bound the length).
    if (name.length <= MAX_REPOSITORY_LENGTH) expect(() => parseImageRef(`registry.example/${name}:v1`)).toThrow(/valid repository path/);
  });
  it.each(VALID)('takes %s', (name) => {
    expect(REPOSITORY.test(name)).toBe(true);
    expect(name.length).toBeLessThanOrEqual(MAX_REPOSITORY_LENGTH);
  });
});

describe('every format has the repository at a field, and the list covers every provider', () => {
  it('covers every webhook provider and ECR', () => {
    expect(FORMATS.map((f) => f.provider).sort()).toEqual([...WEBHOOK_PROVIDERS, 'ecr'].sort());
  });
});

describe.each(FORMATS)('$provider', (format) => {
  it.each(INVALID)('a repository with %s is a 400 naming the field', (_, name) => {
    const error = failure(() => format.parse(withName(format, name)));
    expect(error.statusCode).toBe(400);
    expect(error.field).toBe(format.field);
    expect(error.message).toMatch(new RegExp(`^${format.field.replace(/[.[\]]/g, '\\$&')}: must (be a repository name|be at most 255 characters)`));
  });

  it(format.provider === 'ghcr' ? 'an upper-case name is lower-cased, as GHCR does' : 'an upper-case repository is a 400 naming the field', () => {
    if (format.provider === 'ghcr') {
      expect(format.parse(withName(format, UPPER)).events[0]?.repository).toBe(UPPER.toLowerCase());
    } else {
      expect(failure(() => format.parse(withName(format, UPPER)))).toMatchObject({ statusCode: 400, field: format.field });
    }
  });

  it.each(VALID)('a repository inside the grammar (%s) is read as is, and reaches the filter', (name) => {
    const parsed = format.parse(withName(format, name));
    expect(parsed.events.map((event) => event.repository)).toEqual(parsed.events.map(() => name));
    expect(parsed.events.length).toBeGreaterThan(0);
    // Inside the grammar but not KFM_IMAGE's: intake's filter says so (a 202 {"ignored"}), nothing queued.
    const image = parseImageRef('registry.example/kubeflow/metadata:v1');
    const accepted = pushCommand(parsed, { image, tagPolicy: parseTagPolicy('track', image.tag), now: new Date(0) });
    expect(accepted.command).toBeUndefined();
    expect(accepted.ignored.join('; ')).toMatch(/is not registry\.example|repository is not kubeflow\/metadata/);
  });
});
