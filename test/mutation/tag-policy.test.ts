// src/policy/tag-policy.ts, edge by edge: which tags a policy follows, and the
// order that decides "newer" (the duplicate and rollback detection relies on it).
import { describe, expect, it } from '@jest/globals';
import { isUpgrade, parseTagPolicy, refreshTag, tagAllowed } from '../../src/policy/tag-policy.js';

const d = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const EARLY = '2026-01-01T00:00:00Z';
const LATE = '2026-01-02T00:00:00Z';

describe('parseTagPolicy', () => {
  it('track follows the tag of KFM_IMAGE', () => {
    expect(parseTagPolicy('track', 'v1.0.0')).toEqual({ kind: 'track', tag: 'v1.0.0' });
  });

  it('semver:<range> keeps the range after the prefix', () => {
    expect(parseTagPolicy('semver:^1.2', 'x')).toEqual({ kind: 'semver', range: '^1.2' });
    expect(parseTagPolicy('semver:>=1.0.0 <2', 'x')).toEqual({ kind: 'semver', range: '>=1.0.0 <2' });
  });

  it('refuses a semver range that is not one, naming it', () => {
    expect(() => parseTagPolicy('semver:one.two', 'x')).toThrow('"one.two" is not a semver range');
  });

  it('regex:<pattern> is anchored at both ends, alternatives included', () => {
    const policy = parseTagPolicy('regex:v1\\.\\d+|stable', 'x');
    expect(policy.kind).toBe('regex');
    expect(['v1.2', 'v1.10', 'stable'].map((tag) => tagAllowed(policy, tag))).toEqual([true, true, true]);
    expect(['xv1.2', 'v1.2x', 'v1.2-debug', 'unstable', 'stable1', ''].map((tag) => tagAllowed(policy, tag))).toEqual([false, false, false, false, false, false]);
  });

  it('refuses anything else, saying what is allowed', () => {
    for (const text of ['', 'semver', 'regex', 'tracking', 'latest', 'x-semver:^1', 'x-regex:v1']) {
      expect(() => parseTagPolicy(text, 'x')).toThrow('must be "track", "semver:<range>" or "regex:<pattern>"');
    }
  });
});

describe('tagAllowed', () => {
  it('track: exactly the tracked tag', () => {
    const policy = parseTagPolicy('track', 'stable');
    expect(tagAllowed(policy, 'stable')).toBe(true);
    expect(tagAllowed(policy, 'stable-1')).toBe(false);
    expect(tagAllowed(policy, 'Stable')).toBe(false);
  });

  it('semver: loose versions in the range (a leading zero, a v prefix); not junk', () => {
    const policy = parseTagPolicy('semver:^1.2', 'x');
    expect(tagAllowed(policy, '01.3.0')).toBe(true);
    expect(tagAllowed(policy, 'v1.2.0')).toBe(true);
    expect(tagAllowed(policy, '1.1.0')).toBe(false);
    expect(tagAllowed(policy, 'latest')).toBe(false);
  });

  it('semver: a loose range matches loose versions', () => {
    expect(tagAllowed(parseTagPolicy('semver:>=01.2.0', 'x'), '1.3.0')).toBe(true);
  });
});

describe('isUpgrade', () => {
  const semver = parseTagPolicy('semver:>=0', 'x');
  const track = parseTagPolicy('track', 'stable');
  const regex = parseTagPolicy('regex:.*', 'x');

  it('anything replaces nothing', () => {
    expect(isUpgrade(semver, undefined, { tag: '0.0.1' })).toBe(true);
  });

  it('the same digest under the same tag is no upgrade (a duplicate), whatever the times', () => {
    expect(isUpgrade(track, { tag: 'stable', digest: d(1), pushedAt: EARLY }, { tag: 'stable', digest: d(1), pushedAt: LATE })).toBe(false);
    expect(isUpgrade(semver, { tag: '1.0.0', digest: d(1) }, { tag: '1.0.0', digest: d(1) })).toBe(false);
  });

  it('the same digest under another tag, or another digest under the same tag, may be', () => {
    expect(isUpgrade(track, { tag: 'stable', digest: d(1) }, { tag: 'other', digest: d(1) })).toBe(true);
    expect(isUpgrade(track, { tag: 'stable', digest: d(1) }, { tag: 'stable', digest: d(2) })).toBe(true);
  });

  it('a push without a digest is never taken for the deployed one', () => {
    expect(isUpgrade(track, { tag: 'stable' }, { tag: 'stable' })).toBe(true);
  });

  it('semver: the higher version wins whenever it was pushed, and a lower one never does', () => {
    expect(isUpgrade(semver, { tag: '1.2.0', digest: d(1), pushedAt: LATE }, { tag: '1.3.0', digest: d(2), pushedAt: EARLY })).toBe(true);
    expect(isUpgrade(semver, { tag: '1.3.0', digest: d(1), pushedAt: EARLY }, { tag: '1.2.0', digest: d(2), pushedAt: LATE })).toBe(false);
  });

  it('semver: loose versions are compared as versions', () => {
    expect(isUpgrade(semver, { tag: '1.2.0', digest: d(1), pushedAt: LATE }, { tag: '01.3.0', digest: d(2), pushedAt: EARLY })).toBe(true);
    expect(isUpgrade(semver, { tag: '01.3.0', digest: d(1), pushedAt: EARLY }, { tag: '1.2.0', digest: d(2), pushedAt: LATE })).toBe(false);
  });

  it('semver: the same version is ordered by push time (later wins, same time too)', () => {
    expect(isUpgrade(semver, { tag: '1.0.0', digest: d(1), pushedAt: EARLY }, { tag: '1.0.0', digest: d(2), pushedAt: LATE })).toBe(true);
    expect(isUpgrade(semver, { tag: '1.0.0', digest: d(1), pushedAt: LATE }, { tag: '1.0.0', digest: d(2), pushedAt: EARLY })).toBe(false);
    expect(isUpgrade(semver, { tag: '1.0.0', digest: d(1), pushedAt: EARLY }, { tag: '1.0.0', digest: d(2), pushedAt: EARLY })).toBe(true);
  });

  it('semver: where either tag is no version, push time decides', () => {
    expect(isUpgrade(semver, { tag: '2.0.0', digest: d(1), pushedAt: EARLY }, { tag: 'nightly', digest: d(2), pushedAt: LATE })).toBe(true);
    expect(isUpgrade(semver, { tag: 'nightly', digest: d(1), pushedAt: EARLY }, { tag: '0.1.0', digest: d(2), pushedAt: LATE })).toBe(true);
    expect(isUpgrade(semver, { tag: 'nightly', digest: d(1), pushedAt: LATE }, { tag: '9.0.0', digest: d(2), pushedAt: EARLY })).toBe(false);
    expect(isUpgrade(semver, { digest: d(1), pushedAt: LATE }, { tag: '9.0.0', digest: d(2), pushedAt: EARLY })).toBe(false);
    expect(isUpgrade(semver, { tag: '9.0.0', digest: d(1), pushedAt: LATE }, { digest: d(2), pushedAt: EARLY })).toBe(false);
  });

  it('other policies never compare versions: push time decides', () => {
    expect(isUpgrade(regex, { tag: '2.0.0', digest: d(1), pushedAt: EARLY }, { tag: '1.0.0', digest: d(2), pushedAt: LATE })).toBe(true);
    expect(isUpgrade(regex, { tag: '1.0.0', digest: d(1), pushedAt: LATE }, { tag: '2.0.0', digest: d(2), pushedAt: EARLY })).toBe(false);
  });

  it('without both push times, nothing is older', () => {
    expect(isUpgrade(track, { tag: 'stable', digest: d(1), pushedAt: LATE }, { tag: 'stable', digest: d(2) })).toBe(true);
    expect(isUpgrade(track, { tag: 'stable', digest: d(1) }, { tag: 'stable', digest: d(2), pushedAt: EARLY })).toBe(true);
  });
});

describe('refreshTag', () => {
  const semver = parseTagPolicy('semver:^1', 'x');

  it('track: always its one tag', () => {
    expect(refreshTag(parseTagPolicy('track', 'stable'), ['1.9.0', 'other'], 'old')).toBe('stable');
  });

  it('the newest allowed tag, in version order, when newer than the deployed one', () => {
    expect(refreshTag(semver, ['1.2.0', '1.10.0', '2.0.0', '1.9.0', 'latest'], '1.2.0')).toBe('1.10.0');
    expect(refreshTag(semver, ['1.10.0', '1.9.0'], undefined)).toBe('1.10.0');
  });

  it('the deployed tag when nothing newer is allowed, or nothing is allowed at all', () => {
    expect(refreshTag(semver, ['1.2.0', '1.3.0'], '1.4.0')).toBe('1.4.0');
    expect(refreshTag(semver, ['1.3.0'], '1.3.0')).toBe('1.3.0');
    expect(refreshTag(semver, ['2.0.0', 'latest'], '1.0.0')).toBe('1.0.0');
    expect(refreshTag(semver, [], undefined)).toBeUndefined();
  });

  it('tags that are no versions: natural order (build-10 after build-9)', () => {
    const regex = parseTagPolicy('regex:build-\\d+', 'x');
    expect(refreshTag(regex, ['build-9', 'build-10', 'build-2'], 'build-3')).toBe('build-10');
    expect(refreshTag(regex, ['build-9', 'build-2'], 'build-10')).toBe('build-10');
    expect(refreshTag(regex, ['build-2'], undefined)).toBe('build-2');
  });

  it('loose versions sort as versions', () => {
    expect(refreshTag(semver, ['01.10.0', '1.9.0'], undefined)).toBe('01.10.0');
  });

  it('an equal version under another spelling is not newer: the deployed tag stays', () => {
    expect(refreshTag(semver, ['01.3.0'], '1.3.0')).toBe('1.3.0');
  });

  it('versions in version order even where natural order differs (a pre-release sorts before its release)', () => {
    const any = parseTagPolicy('regex:.*', 'x');
    expect(refreshTag(any, ['1.2.3', '1.2.3-rc.1'], undefined)).toBe('1.2.3');
    expect(refreshTag(any, ['1.2.3-rc.1', '1.2.3'], undefined)).toBe('1.2.3');
    // Loose versions too: `1.2.3beta` is the pre-release 1.2.3-beta.
    expect(refreshTag(any, ['1.2.3beta', '1.2.3'], undefined)).toBe('1.2.3');
    expect(refreshTag(any, ['1.2.3', '1.2.3beta'], undefined)).toBe('1.2.3');
  });

  it('a version and a tag that is none compare in natural order', () => {
    const any = parseTagPolicy('regex:.*', 'x');
    expect(refreshTag(any, ['1.2.0', 'nightly'], undefined)).toBe('nightly');
    expect(refreshTag(any, ['nightly', '1.2.0'], undefined)).toBe('nightly');
  });
});
