// Which pushed tags the deployer follows (`KFM_TAG_POLICY`), and the order
// that decides "newer": it never rolls back to an older version.
import semver from 'semver';
import type { ImageInfo } from '../domain/types.js';

export type TagPolicy =
  | { kind: 'track'; tag: string }
  | { kind: 'semver'; range: string }
  | { kind: 'regex'; pattern: RegExp };

/** Parses `track`, `semver:<range>`, `regex:<pattern>`; throws with what is allowed. */
export function parseTagPolicy(text: string, trackedTag: string): TagPolicy {
  if (text === 'track') return { kind: 'track', tag: trackedTag };
  if (text.startsWith('semver:')) {
    const range = text.slice('semver:'.length);
    if (semver.validRange(range, { loose: true }) === null) throw new Error(`"${range}" is not a semver range`);
    return { kind: 'semver', range };
  }
  if (text.startsWith('regex:')) {
    const source = text.slice('regex:'.length);
    // Anchored: a policy of `v1\.\d+` must not match `v1.2-debug`.
    return { kind: 'regex', pattern: new RegExp(`^(?:${source})$`) };
  }
  throw new Error('must be "track", "semver:<range>" or "regex:<pattern>"');
}

/** Whether a pushed tag is one the policy follows. */
export function tagAllowed(policy: TagPolicy, tag: string): boolean {
  switch (policy.kind) {
    case 'track':
      return tag === policy.tag;
    case 'semver': {
      const version = semver.valid(tag, { loose: true });
      // Stryker disable next-line ConditionalExpression: equivalent for `version !== null` → true, semver.satisfies(null, …) is false (the other two on this line are killed, and ignored with it)
      return version !== null && semver.satisfies(version, policy.range, { loose: true });
    }
    case 'regex':
      return policy.pattern.test(tag);
  }
}

type Candidate = Partial<Pick<ImageInfo, 'tag' | 'pushedAt' | 'digest'>>;

/**
 * Whether `candidate` may replace `deployed`. Semver compares versions (same
 * version: the later push wins); every policy refuses a push older than the
 * deployed one, so a late redelivery never rolls back.
 */
export function isUpgrade(policy: TagPolicy, deployed: Candidate | undefined, candidate: Candidate): boolean {
  if (!deployed) return true;
  if (candidate.digest !== undefined && deployed.digest === candidate.digest && deployed.tag === candidate.tag) return false;
  // Stryker disable next-line StringLiteral: equivalent, semver.valid() is null for '' and for any other non-version fallback
  if (policy.kind === 'semver' && semver.valid(deployed.tag ?? '', true) && semver.valid(candidate.tag ?? '', true)) {
    const order = semver.compare(candidate.tag!, deployed.tag!, { loose: true });
    // Stryker disable next-line EqualityOperator: equivalent, `order > 0` and `order >= 0` agree once order !== 0
    if (order !== 0) return order > 0;
  }
  return !isOlder(candidate.pushedAt, deployed.pushedAt);
}

/** Newest first: semver where both tags are versions, else natural order (`v10` after `v9`). */
function compareTags(a: string, b: string): number {
  const [va, vb] = [semver.valid(a, { loose: true }), semver.valid(b, { loose: true })];
  // Stryker disable next-line ObjectLiteral,BooleanLiteral: equivalent, va and vb are semver.valid()'s clean versions, which compare alike loose or strict
  if (va && vb) return semver.compare(vb, va, { loose: true });
  return b.localeCompare(a, 'en', { numeric: true });
}

/**
 * The tag a scheduled refresh deploys: the newest tag the policy allows among the registry's, when it
 * is newer than the deployed one (a lost webhook); else the deployed tag again (renewed credentials).
 * `track` follows its one tag. Never older than what runs.
 */
export function refreshTag(policy: TagPolicy, tags: readonly string[], deployedTag: string | undefined): string | undefined {
  if (policy.kind === 'track') return policy.tag;
  const newest = tags.filter((tag) => tagAllowed(policy, tag)).sort(compareTags)[0];
  if (newest === undefined) return deployedTag;
  if (deployedTag === undefined) return newest;
  return compareTags(newest, deployedTag) < 0 ? newest : deployedTag;
}

function isOlder(candidate: string | undefined, deployed: string | undefined): boolean {
  // Stryker disable next-line ConditionalExpression,LogicalOperator: equivalent, Date.parse of a missing time is NaN and NaN < x is false
  if (!candidate || !deployed) return false;
  return Date.parse(candidate) < Date.parse(deployed);
}
