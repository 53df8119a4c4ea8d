// One POST to a notification receiver, shared by the adapters: bounded by a
// timeout (AbortSignal.timeout: it covers connecting, the answer and its body),
// never throwing, and never showing the URL. A Slack incoming-webhook URL is
// itself the credential and a generic receiver's may carry a token, so results
// and log lines name the channel, the HTTP status or the error code only — not
// the URL, not the receiver's body (which could echo the request), not the
// error's message (fetch's can quote the URL). Redirects are not followed: a
// signed body is for the receiver that was configured, not wherever it points.
import type { Logger } from '../log.js';
import { silentLogger } from '../log.js';
import type { NotifyResult } from './port.js';

export interface PostOptions {
  channel: string;
  url: URL;
  body: string;
  headers: Record<string, string>;
  /** Milliseconds for the whole exchange. */
  timeoutMs: number;
  logger?: Logger;
  /** The fetch implementation (tests may wrap it); global fetch by default. */
  fetch?: typeof fetch;
}

export interface ChannelOptions {
  /** Per notification (default 5000 ms), shortened to `deadline() - 1000` when a deadline is given. */
  timeoutMs?: number;
  /** Milliseconds left in the invocation. */
  deadline?: () => number;
  logger?: Logger;
  fetch?: typeof fetch;
}

/** The receiver URL, checked once when the adapter is made; the error never quotes it. */
export function receiverUrl(channel: string, text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`${channel} notifier: the URL is not a valid URL`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`${channel} notifier: the URL must be http(s)`);
  return url;
}

export const timeoutFor = (options: ChannelOptions): number =>
  Math.max(1, Math.min(options.timeoutMs ?? 5000, options.deadline ? options.deadline() - 1000 : Infinity));

export async function post(options: PostOptions): Promise<NotifyResult> {
  const { channel, timeoutMs } = options;
  const logger = options.logger ?? silentLogger;
  const started = performance.now();
  const ms = () => Math.round(performance.now() - started);
  let result: NotifyResult;
  try {
    const response = await (options.fetch ?? fetch)(options.url, {
      method: 'POST', body: options.body, headers: options.headers, redirect: 'manual', signal: AbortSignal.timeout(timeoutMs),
    });
    await response.body?.cancel().catch(() => undefined); // the connection goes back to the pool; the text is not used
    result = response.status >= 200 && response.status <= 299
      ? { ok: true, channel, status: response.status, ms: ms() }
      : { ok: false, channel, status: response.status, timedOut: false, ms: ms(),
        error: `HTTP ${response.status}${response.status >= 300 && response.status <= 399 ? ' (redirects are not followed)' : ''}` };
  } catch (error) {
    const name = (error as { name?: unknown } | undefined)?.name;
    const timedOut = name === 'TimeoutError' || name === 'AbortError';
    const code = (error as { cause?: { code?: unknown } } | undefined)?.cause?.code;
    result = { ok: false, channel, timedOut, ms: ms(),
      error: timedOut ? `no answer within ${timeoutMs} ms` : `request failed${typeof code === 'string' ? ` (${code})` : ''}` };
  }
  if (result.ok) logger.info('notification sent', { channel, status: result.status, ms: result.ms });
  else logger.warn('notification failed', { channel, error: result.error, ms: result.ms });
  return result;
}
