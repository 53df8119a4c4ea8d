// Jest config for `npm run mutation` (stryker.config.mjs): the project's jest
// config (native ESM, ts-jest transpiling only), restricted to fast unit tests.
//
// An allowlist, not "everything but the slow ones": a new test that starts a
// control plane, moto, a registry, a bundle build or a child process must never
// slip into a mutation run, which runs the covering tests once per mutant.
// Left out for that reason: test/e2e-*.test.ts, bundles, faults, rbac,
// kubernetes-target, registry-client, hostile, secret-leak (local app / registry /
// control plane), render (runs kubectl). Left out because they cover none of the
// mutated folders (src/app, src/charm, src/reactive, src/policy): compare,
// credentials, directory-target, eks-token, settings, sqs-queue, webhook-auth,
// leak-guard, payloads/*, rollout-verdict. Left out as peers: refresh-policy
// (a registry), package (osls).
//
// test/scheduled-refresh.test.ts is left out too, though it is fast: its
// beforeAll runs a whole step, and Stryker counts what runs outside a test as
// "static" coverage, whose mutants are run against every related test instead
// of the tests covering them. That one hook made ~600 mutants static and the
// run three times as long. test/mutation/scheduled-refresh.test.ts and
// test/mutation/deployer.test.ts cover the same behaviour, test by test. Keep
// beforeAll/top-level calls into src/ out of the tests listed here.
import base from './jest.config.js';

const UNIT_TESTS = [
  // src/charm, src/reactive, src/policy
  'charm-step',
  'reactive-engine',
  'tag-policy',
  // src/app
  'config-request',
  'poison-values',
  'schemas.fuzz',
  'state-store',
  'apply',
  'deployer-deadline',
  // Unit-level tests of the queue/worker refactor (matched once they exist).
  'claim',
  'worker',
  'in-process-queue',
  'intake',
  'mysql-secret-ref',
  // Rollouts followed, reverted, quarantined; control (a scripted observer on the memory target).
  'rollout-step',
  'step-events',
  'control-request.fuzz',
];

export default {
  ...base,
  testMatch: [
    ...UNIT_TESTS.map((name) => `<rootDir>/test/${name}.test.ts`),
    // Tests written to kill mutants.
    '<rootDir>/test/mutation/**/*.test.ts',
  ],
  // fast-check with bounded, seeded properties (see the file).
  moduleNameMapper: { ...base.moduleNameMapper, '^fast-check$': '<rootDir>/test/mutation/support/fast-check.ts' },
  testTimeout: 60000,
};
