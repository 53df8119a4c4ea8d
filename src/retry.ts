// The one retry helper: runs an attempt until it succeeds, the failure is
// final, or attempts / time run out, with exponential backoff and full jitter,
// bounded both by attempts and by the invocation's remaining time, so the
// function can still report the failure before it is killed. Used by the
// Kubernetes target (transient API answers), the registry fetcher (a tag not
// yet linked) and the step (a lost compare-and-swap).

export interface RetryOptions {
  /** Total attempts, first included (default 5). */
  attempts?: number;
  /** First backoff ceiling in ms; doubles each attempt (default 200). */
  baseDelayMs?: number;
  /** Backoff ceiling in ms (default 5000). */
  maxDelayMs?: number;
  /** Per-request timeout in ms (default 10000), shortened to the time left. */
  timeoutMs?: number;
  /** Time kept back from `deadline()` to report the failure (default 1000 ms). */
  marginMs?: number;
  /** Longest Retry-After honoured without a deadline (default 30000 ms). */
  maxRetryAfterMs?: number;
  /** Jitter source in [0, 1) (tests pin it). */
  random?: () => number;
}

export type Failure =
  | { retry: true; label: string; retryAfterMs?: number }
  | { retry: false; error: Error };

export class GiveUp extends Error {
  constructor(readonly label: string, readonly attempts: number, readonly outOfTime: boolean) {
    super(`${label} after ${attempts} attempt${attempts === 1 ? '' : 's'}${outOfTime ? ' (out of time)' : ''}`);
    this.name = 'GiveUp';
  }
}

/**
 * Runs `attempt` until it succeeds, `classify` says the failure is final, or
 * attempts / time run out (then throws GiveUp naming the last failure).
 */
export async function withRetry<T>(
  attempt: () => Promise<T>,
  classify: (error: unknown) => Failure,
  options: RetryOptions & { deadline?: () => number },
): Promise<T> {
  const attempts = options.attempts ?? 5;
  const base = options.baseDelayMs ?? 200;
  const max = options.maxDelayMs ?? 5000;
  const random = options.random ?? Math.random;
  const timeLeft = () => (options.deadline ? options.deadline() - (options.marginMs ?? 1000) : Infinity);
  let label = 'no time left';
  for (let n = 1; ; n++) {
    if (timeLeft() <= 0) throw new GiveUp(label, n - 1, true);
    try {
      return await attempt();
    } catch (error) {
      const failure = classify(error);
      if (!failure.retry) throw failure.error;
      label = failure.label;
      if (n >= attempts) throw new GiveUp(label, n, false);
      const backoff = random() * Math.min(max, base * 2 ** (n - 1));
      const wait = Math.max(backoff, Math.min(failure.retryAfterMs ?? 0, options.maxRetryAfterMs ?? 30_000));
      // Sleeping past the budget only to fail later helps no one: stop now.
      if (wait >= timeLeft()) throw new GiveUp(label, n, true);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
}
