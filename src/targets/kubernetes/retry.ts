// What the Kubernetes target retries: transient answers (429, 5xx gateway/overload,
// timeouts, dropped connections), with the project's one retry helper (src/retry.ts).
import type { RetryOptions } from '../../retry.js';

export { GiveUp, withRetry, type Failure, type RetryOptions } from '../../retry.js';

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

/** The per-request timeout for the time left. */
export function requestTimeout(options: RetryOptions & { deadline?: () => number }): number {
  const left = options.deadline ? options.deadline() - (options.marginMs ?? 1000) : Infinity;
  return Math.max(1, Math.min(options.timeoutMs ?? 10_000, left));
}
