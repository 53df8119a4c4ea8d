import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { isUpgrade, parseTagPolicy, tagAllowed } from '../src/policy/tag-policy.js';
import { selectPush } from '../src/app/push-selection.js';
import { parseImageRef } from '../src/image/reference.js';
import type { PushEvent } from '../src/domain/types.js';

const image = parseImageRef('registry.example:5000/kubeflow/metadata:v1.0.0');
const d = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const push = (tag: string | undefined, n: number, pushedAt?: string, extra: Partial<PushEvent> = {}): PushEvent =>
  ({ provider: 'generic', repository: 'kubeflow/metadata', tag, digest: d(n), pushedAt, ...extra });

describe('tag policies', () => {
  it('track follows exactly the tag of KFM_IMAGE', () => {
    const policy = parseTagPolicy('track', 'v1.0.0');
    expect(tagAllowed(policy, 'v1.0.0')).toBe(true);
    expect(tagAllowed(policy, 'v1.0.1')).toBe(false);
  });
  it('semver follows versions in the range (v-prefixed too), not pre-releases or junk', () => {
    const policy = parseTagPolicy('semver:^1.2', 'x');
    expect(['1.2.0', 'v1.9.3'].map((t) => tagAllowed(policy, t))).toEqual([true, true]);
    expect(['2.0.0', '1.1.9', 'latest', '1.3.0-rc.1'].map((t) => tagAllowed(policy, t))).toEqual([false, false, false, false]);
  });
  it('regex is anchored', () => {
    const policy = parseTagPolicy('regex:v1\\.\\d+', 'x');
    expect(tagAllowed(policy, 'v1.2')).toBe(true);
    expect(tagAllowed(policy, 'v1.2-debug')).toBe(false);
  });
  it('semver never downgrades; the same version pushed later wins', () => {
    const policy = parseTagPolicy('semver:>=1', 'x');
    expect(isUpgrade(policy, { tag: '1.3.0', digest: d(1) }, { tag: '1.2.9', digest: d(2), pushedAt: '2030-01-01T00:00:00Z' })).toBe(false);
    expect(isUpgrade(policy, { tag: '1.3.0', digest: d(1), pushedAt: '2026-01-01T00:00:00Z' }, { tag: '1.3.0', digest: d(2), pushedAt: '2026-01-02T00:00:00Z' })).toBe(true);
    expect(isUpgrade(policy, { tag: '1.3.0', digest: d(1), pushedAt: '2026-01-02T00:00:00Z' }, { tag: '1.3.0', digest: d(2), pushedAt: '2026-01-01T00:00:00Z' })).toBe(false);
  });
});

describe('selectPush', () => {
  const track = parseTagPolicy('track', 'v1.0.0');
  it('ignores other registries, repositories, tagless pushes and tags outside the policy, with reasons', () => {
    const result = selectPush([
      push('v1.0.0', 1, undefined, { registry: 'evil.example' }),
      push('v1.0.0', 2, undefined, { repository: 'kubeflow/other' }),
      push(undefined, 3),
      push('v2', 4),
    ], image, track, undefined);
    expect(result.chosen).toBeUndefined();
    expect(result.ignored).toEqual([
      'kubeflow/metadata:v1.0.0: registry evil.example is not registry.example:5000',
      'kubeflow/other:v1.0.0: repository is not kubeflow/metadata',
      `kubeflow/metadata:${d(3)}: pushed by digest, without a tag`,
      'kubeflow/metadata:v2: tag outside the policy',
    ]);
  });
  it('accepts the registry of KFM_IMAGE named in any spelling', () => {
    expect(selectPush([push('v1.0.0', 1, undefined, { registry: 'Registry.Example:5000' })], image, track, undefined).chosen?.digest).toBe(d(1));
  });
  it('ignores what is already deployed', () => {
    const deployed = { registryPath: 'x', digest: d(1), tag: 'v1.0.0', authenticated: false };
    expect(selectPush([push('v1.0.0', 1)], image, track, deployed).ignored[0]).toMatch(/already deployed/);
  });

  it('ends on the newest version whatever order deliveries arrive in (property)', () => {
    const semver = parseTagPolicy('semver:>=1', 'x');
    const versions = fc.uniqueArray(fc.tuple(fc.nat(5), fc.nat(9), fc.nat(9)), { minLength: 1, maxLength: 12, selector: (v) => v.join('.') });
    fc.assert(fc.property(versions, fc.integer(), (triples, seed) => {
      const events = triples.map(([a, b, c], i) => push(`${a + 1}.${b}.${c}`, i + 1, `2026-01-01T00:00:${String(i).padStart(2, '0')}Z`));
      const shuffled = [...events].sort((x, y) => ((x.digest!.charCodeAt(70) * seed) % 7) - ((y.digest!.charCodeAt(70) * seed) % 7));
      let deployed: { registryPath: string; digest: string; tag?: string; pushedAt?: string; authenticated: boolean } | undefined;
      for (const event of shuffled) {
        const { chosen } = selectPush([event], image, semver, deployed);
        if (chosen) deployed = { registryPath: 'x', digest: chosen.digest!, tag: chosen.tag, pushedAt: chosen.pushedAt, authenticated: false };
      }
      const maxVersion = triples.map(([a, b, c]) => [a + 1, b, c]).sort((x, y) => x[0]! - y[0]! || x[1]! - y[1]! || x[2]! - y[2]!).at(-1)!.join('.');
      expect(deployed?.tag).toBe(maxVersion);
    }));
  });
});
