// The guard itself (test/support/leak-guard.ts) must be able to fail: a watched
// secret in stdout, in an observed answer, or in a watched store is reported,
// plain or base64 at any alignment; Secrets are what stores leave out.
import { describe, expect, it } from '@jest/globals';
import { encodings, leaksIn, observe, pendingLeaks, watchSecrets, watchStore } from './support/leak-guard.js';

const SECRET = 'guard-test-Secret-4f1c';
watchSecrets(SECRET, 'short'); // too short to be matched reliably: ignored

describe('the leak guard', () => {
  it('finds a secret in stdout, plain and base64-embedded (then clears what it saw, or this test would fail)', async () => {
    process.stdout.write(`leak-guard self-test, this line is expected: {"token":"${SECRET}"}\n`);
    observe('an answer', JSON.stringify({ auth: Buffer.from(`robot:${SECRET}`).toString('base64') }));
    const leaks = await pendingLeaks();
    expect(leaks.some((leak) => leak.includes('in stdout'))).toBe(true);
    expect(leaks.some((leak) => leak.includes('in an answer'))).toBe(true);
    expect(await pendingLeaks()).toEqual([]); // forgotten once reported
  });

  it('reads a watched store after each test until it is unwatched', async () => {
    let stored = `kind: Service\nannotations: {note: "${SECRET}"}`;
    const unwatch = watchStore('a test store', async () => stored);
    expect(await pendingLeaks()).toEqual([`${SECRET} as ${SECRET} in a test store`]);
    stored = 'kind: Service';
    expect(await pendingLeaks()).toEqual([]);
    unwatch();
  });

  it('matches every base64 alignment and ignores secrets under 8 characters', () => {
    for (const shift of ['', 'x', 'xy']) {
      expect(leaksIn(Buffer.from(`${shift}${SECRET}!`).toString('base64'))).toHaveLength(1);
    }
    expect(leaksIn('short')).toEqual([]);
    expect(encodings(SECRET).every((form) => form.length >= 8)).toBe(true);
  });
});
