// Shared by the payload parser tests: the sample events' bodies, and the
// HttpError a parser throws.
import { readFileSync } from 'node:fs';
import { HttpError } from '../../src/errors.js';

/** The digest every sample push in `events/` carries. */
export const SAMPLE_DIGEST = 'sha256:59168bcdb588317a51f6533d5195f22eaed203fdd60eed19732df8e27003f946';

/** The parsed `body` of `events/<file>` (an API Gateway event), or the event itself when it has no body (EventBridge). */
export function sampleBody<T>(file: string): T {
  const event = JSON.parse(readFileSync(new URL(`../../events/${file}`, import.meta.url), 'utf8')) as { body?: string };
  return (typeof event.body === 'string' ? JSON.parse(event.body) : event) as T;
}

/** The HttpError `run` throws; fails the test when it throws nothing or something else. */
export function failure(run: () => unknown): HttpError {
  try {
    run();
  } catch (error) {
    if (error instanceof HttpError) return error;
    throw error;
  }
  throw new Error('expected an HttpError');
}
