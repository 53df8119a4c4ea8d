// The rollout-observer port: follows the Deployment's rollout until a verdict
// or the invocation's deadline. Adapter: the Kubernetes API (observer.ts); the
// directory target has none (its rollouts complete at once, src/charm/rollout.ts).
export interface RolloutFollowResult {
  state: 'complete' | 'failed' | 'progressing';
  /** Why it failed (names the pod condition), or what it still waits for. */
  reason?: string;
  /** No verdict before the deadline: a later invocation must look again. */
  outOfTime: boolean;
}

export interface RolloutObserver {
  /** `since`: when the rollout started (a condition older than it is an earlier rollout's). */
  follow(options: { deadline: () => number; since?: string }): Promise<RolloutFollowResult>;
}
