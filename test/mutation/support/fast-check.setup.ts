// Loaded before every test file of a mutation run (jest.mutation.config.js only;
// `npm test` runs the properties as written). A mutant needs a failure, not a
// minimal counterexample, and it is run once per mutant:
// - endOnFailure: no shrinking after the first failure (shrinking a race re-runs it for seconds);
// - seed: the same inputs on every run, so a mutant's verdict does not change between runs;
// - interruptAfterTimeLimit: a property stops after this much time and passes if nothing failed
//   so far (test/claim.test.ts's race takes ~10 s for its 30 runs and covers most mutants: in
//   one second it still runs a few interleavings of twelve pushes over two processes).
import fc from 'fast-check';

fc.configureGlobal({ ...fc.readConfigureGlobal(), endOnFailure: true, seed: 20260101, interruptAfterTimeLimit: 1000 });
// TEMP DEBUG
import { appendFileSync } from 'node:fs';
import { afterAll, beforeAll, expect as jestExpect } from '@jest/globals';
const strykerGlobal = (globalThis as any).__stryker__;
const countStatic = () => Object.keys(strykerGlobal?.mutantCoverage?.static ?? {}).length;
beforeAll(() => { appendFileSync('/tmp/static-debug.log', `${jestExpect.getState().testPath} load ${countStatic()}\n`); });
afterAll(() => { appendFileSync('/tmp/static-debug.log', `${jestExpect.getState().testPath} end ${countStatic()}\n`); });
