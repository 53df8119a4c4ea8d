// The duplicate and rollback detection of a batch of pushes (src/app/push-selection.ts)
// and the stateless filter before it (src/policy/push-filter.ts), reason by reason.
import { describe, expect, it } from '@jest/globals';
import { selectPush } from '../../src/app/push-selection.js';
import type { ResourceInfo } from '../../src/charm/state.js';
import type { PushEvent } from '../../src/domain/types.js';
import { parseImageRef } from '../../src/image/reference.js';
import { describePush, pushMismatch } from '../../src/policy/push-filter.js';
import { parseTagPolicy } from '../../src/policy/tag-policy.js';

const image = parseImageRef('registry.example:5000/kubeflow/metadata:1.0.0');
const semver = parseTagPolicy('semver:^1', image.tag);
const track = parseTagPolicy('track', image.tag);
const d = (n: number) => `sha256:${n.toString(16).padStart(64, '0')}`;
const push = (tag: string | undefined, n: number | undefined, extra: Partial<PushEvent> = {}): PushEvent =>
  ({ provider: 'generic', repository: 'kubeflow/metadata', tag, digest: n === undefined ? undefined : d(n), ...extra });
const deployedAs = (tag: string | undefined, n: number, pushedAt?: string): ResourceInfo =>
  ({ registryPath: `registry.example:5000/kubeflow/metadata@${d(n)}`, digest: d(n), tag, pushedAt, authenticated: false });

describe('describePush', () => {
  it('names the tag, else the digest, else a question mark', () => {
    expect(describePush(push('1.2.0', 1))).toBe('kubeflow/metadata:1.2.0');
    expect(describePush(push(undefined, 1))).toBe(`kubeflow/metadata:${d(1)}`);
    expect(describePush(push(undefined, undefined))).toBe('kubeflow/metadata:?');
  });
});

describe('pushMismatch', () => {
  it('accepts a push that names no registry, taking KFM_IMAGE’s', () => {
    expect(pushMismatch(push('1.2.0', 1), image, semver)).toBeUndefined();
  });

  it('normalises the repository against the registry the push names (Docker Hub’s library/)', () => {
    const hub = parseImageRef('mysql:8.0');
    expect(pushMismatch(push('8.0', 1, { registry: 'docker.io', repository: 'mysql' }), hub, parseTagPolicy('track', '8.0'))).toBeUndefined();
    expect(pushMismatch(push('8.0', 1, { repository: 'MySQL' }), hub, parseTagPolicy('track', '8.0'))).toBeUndefined();
  });

  it('says why, in order: registry, repository, tag, policy', () => {
    expect(pushMismatch(push('1.2.0', 1, { registry: 'other.example' }), image, semver)).toBe('kubeflow/metadata:1.2.0: registry other.example is not registry.example:5000');
    expect(pushMismatch(push(undefined, 1, { registry: 'other.example', repository: 'x/y' }), image, semver)).toMatch(/registry other.example/);
    expect(pushMismatch(push('1.2.0', 1, { repository: 'kubeflow/other' }), image, semver)).toBe('kubeflow/other:1.2.0: repository is not kubeflow/metadata');
    expect(pushMismatch(push(undefined, 1, { repository: 'kubeflow/other' }), image, semver)).toMatch(/repository is not/);
    expect(pushMismatch(push(undefined, 1), image, semver)).toBe(`kubeflow/metadata:${d(1)}: pushed by digest, without a tag`);
    expect(pushMismatch(push('', 1), image, semver)).toBe(`kubeflow/metadata:: pushed by digest, without a tag`);
    expect(pushMismatch(push('2.0.0', 1), image, semver)).toBe('kubeflow/metadata:2.0.0: tag outside the policy');
  });
});

describe('selectPush', () => {
  it('nothing pushed: nothing chosen, nothing said', () => {
    expect(selectPush([], image, semver, deployedAs('1.0.0', 1))).toEqual({ chosen: undefined, ignored: [] });
  });

  it('chooses the newest of a batch whatever its order, saying what each superseded', () => {
    const result = selectPush([push('1.2.0', 2), push('1.3.0', 3), push('1.1.0', 1)], image, semver, undefined);
    expect(result.chosen).toEqual(push('1.3.0', 3));
    expect(result.ignored).toEqual([
      'kubeflow/metadata:1.2.0: superseded by kubeflow/metadata:1.3.0',
      'kubeflow/metadata:1.1.0: superseded by kubeflow/metadata:1.3.0',
    ]);
  });

  it('a later push of the same tag and digest in the batch supersedes nothing new', () => {
    const result = selectPush([push('1.2.0', 2), push('1.2.0', 2)], image, semver, undefined);
    expect(result.chosen).toEqual(push('1.2.0', 2));
    expect(result.ignored).toEqual(['kubeflow/metadata:1.2.0: superseded by kubeflow/metadata:1.2.0']);
  });

  it('mismatches are ignored with their reason and never chosen', () => {
    const result = selectPush([push('2.0.0', 9), push('1.2.0', 2)], image, semver, undefined);
    expect(result.chosen?.tag).toBe('1.2.0');
    expect(result.ignored).toEqual(['kubeflow/metadata:2.0.0: tag outside the policy']);
  });

  it('what runs already (same tag, same digest) is a duplicate: ignored, saying which digest', () => {
    const result = selectPush([push('1.2.0', 2)], image, semver, deployedAs('1.2.0', 2));
    expect(result).toEqual({ ignored: [`kubeflow/metadata:1.2.0: already deployed (${d(2)})`] });
    expect(result.chosen).toBeUndefined();
  });

  it('keeps the batch’s reasons before the duplicate’s', () => {
    const result = selectPush([push('1.1.0', 1), push('1.2.0', 2)], image, semver, deployedAs('1.2.0', 2));
    expect(result.ignored).toEqual(['kubeflow/metadata:1.1.0: superseded by kubeflow/metadata:1.2.0', `kubeflow/metadata:1.2.0: already deployed (${d(2)})`]);
  });

  it('the same digest under another tag, or the same tag with another digest, is not a duplicate', () => {
    expect(selectPush([push('1.0.0', 2)], image, track, deployedAs('latest', 2)).chosen?.tag).toBe('1.0.0');
    expect(selectPush([push('1.0.0', 3)], image, track, deployedAs('1.0.0', 2)).chosen?.digest).toBe(d(3));
  });

  it('a push without a digest is never already deployed, even against a resource recorded without one', () => {
    // The state schema requires a digest; the check must not rely on it.
    const undigested = { ...deployedAs('1.0.0', 1, '2026-01-01T00:00:00Z'), digest: undefined as unknown as string };
    const result = selectPush([push('1.0.0', undefined, { pushedAt: '2026-01-02T00:00:00Z' })], image, track, undigested);
    expect(result.chosen?.tag).toBe('1.0.0');
    expect(result.ignored).toEqual([]);
  });

  it('a push older than what runs is ignored, naming the deployed tag (or digest when it has none)', () => {
    const older = selectPush([push('1.1.0', 1), push('1.0.0', 0)], image, semver, deployedAs('1.2.0', 2));
    expect(older).toEqual({ ignored: ['kubeflow/metadata:1.0.0: superseded by kubeflow/metadata:1.1.0', 'kubeflow/metadata:1.1.0: older than the deployed 1.2.0'] });
    const byTime = selectPush([push('1.0.0', 3, { pushedAt: '2026-01-01T00:00:00Z' })], image, track, deployedAs(undefined, 2, '2026-01-02T00:00:00Z'));
    expect(byTime).toEqual({ ignored: [`kubeflow/metadata:1.0.0: older than the deployed ${d(2)}`] });
  });

  it('a newer push than what runs is chosen', () => {
    expect(selectPush([push('1.3.0', 3)], image, semver, deployedAs('1.2.0', 2))).toEqual({ chosen: push('1.3.0', 3), ignored: [] });
  });
});
