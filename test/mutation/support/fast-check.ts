// fast-check as the mutation run sees it (jest.mutation.config.js maps `fast-check`
// here; `npm test` runs the properties as written). Every property is run once
// per mutant that its test covers, so each is bounded and made repeatable:
// - numRuns capped: ASYNC_RUNS for async properties (test/claim.test.ts's race of
//   twelve pushes over two processes takes ~0.3 s a run, 30 runs as written),
//   SYNC_RUNS for the others (the schema fuzzers ask for up to 1500). With this
//   seed the race's first run already writes backwards once the claim is removed
//   (checked by hand: apply.ts writing the state last), so two runs keep a margin;
// - one seed: a mutant gets the same inputs on every run, so its verdict is stable;
// - endOnFailure: a mutant needs a failure, not a shrunk counterexample.
// A cap, not a time limit: fast-check's interruptAfterTimeLimit abandons the run
// in flight, which then keeps running between tests, where Stryker counts what it
// covers as "static" (run against every test) and misattributes its coverage.
import * as real from '../../../node_modules/fast-check/lib/fast-check.js';

export * from '../../../node_modules/fast-check/lib/fast-check.js';

const ASYNC_RUNS = 2;
const SYNC_RUNS = 200;
const SEED = 20260101;

type Params = Parameters<typeof real.assert>[1];

export function assert(property: Parameters<typeof real.assert>[0], params?: Params) {
  const cap = property.isAsync() ? ASYNC_RUNS : SYNC_RUNS;
  const bounded = { ...params, numRuns: Math.min(params?.numRuns ?? 100, cap), seed: SEED, endOnFailure: true } as Params;
  return real.assert(property as never, bounded as never);
}

export default { ...real, assert };
