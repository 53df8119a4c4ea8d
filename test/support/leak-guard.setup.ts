// Loaded before every test file (jest.config.js setupFilesAfterEnv): see leak-guard.ts.
import { afterEach } from '@jest/globals';
import { observe, pendingLeaks } from './leak-guard.js';

for (const [name, stream] of [['stdout', process.stdout], ['stderr', process.stderr]] as const) {
  const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
  stream.write = ((chunk: unknown, ...rest: unknown[]) => {
    observe(name, String(chunk));
    return write(chunk, ...rest);
  }) as typeof stream.write;
}

afterEach(async () => {
  const leaks = await pendingLeaks();
  if (leaks.length > 0) throw new Error(`secret leaked:\n${leaks.join('\n')}`);
});
