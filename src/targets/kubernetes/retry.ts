// Retry policy for API calls: transient answers (429, 5xx gateway/overload,
// timeouts, dropped connections) are retried with exponential backoff and full
// jitter, bounded both by attempts and by the Lambda's remaining time, so the
// function can still report the failure before it is killed.

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

const RETRYABLE_STATUS = new Set([429, 500, 502, 503, 504]);
const RETRYABLE_CODES = new Set([
  'ETIMEDOUT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED',
]);

export const isRetryableStatus = (status: number): boolean => RETRYABLE_STATUS.has(status);
export const isRetryableCode = (code: unknown): boolean => typeof code === 'string' && RETRYABLE_CODES.has(code);

/** Retry-After is delay-seconds or an HTTP date (RFC 9110 §10.2.3). */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
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

/** The per-request timeout for the time left. */
export function requestTimeout(options: RetryOptions & { deadline?: () => number }): number {
  const left = options.deadline ? options.deadline() - (options.marginMs ?? 1000) : Infinity;
  return Math.max(1, Math.min(options.timeoutMs ?? 10_000, left));
}
