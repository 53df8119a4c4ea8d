// Mutation testing (`npm run mutation`, issue 10 "Proof 2"): every mutant of the
// core that the unit tests let survive is a behaviour no test pins down.
// Developers run it; it is not part of CI (.ci/run). Score below 80 %: exit 1.
//
// How it runs native-ESM jest: the jest runner loads jest in a child process,
// and `testRunnerNodeArgs` gives that process `--experimental-vm-modules`, as
// `npm test` does. ts-jest (useESM, diagnostics off) transpiles Stryker's
// instrumented TypeScript like any other file. `perTest` coverage works with it:
// the runner wraps the test environment, and instrumented ES modules report
// coverage into that environment's global.
//
// The sandbox is a copy of the project (node_modules symlinked), so the git work
// tree is never touched; reports go to reports/mutation/ (git-ignored).
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'jest',
  testRunnerNodeArgs: ['--experimental-vm-modules', '--no-warnings'],
  jest: {
    projectType: 'custom',
    // Only the fast unit tests (see the file): nothing that starts a peer.
    configFile: 'jest.mutation.config.js',
    // Jest runs only the test files that import the mutated file: what keeps the
    // static mutants (rule tables, flag names, regexes: evaluated at import,
    // so every test would otherwise run for each) affordable.
    enableFindRelatedTests: true,
  },
  coverageAnalysis: 'perTest',
  mutate: [
    // Production files only (no *.test.ts: none live in src/ today, but one may).
    'src/{app,charm,reactive,policy}/**/!(*.test).ts',
    // Pure wiring (environment → adapters → handlers): no decision of their own,
    // so a mutant there says nothing a unit test should pin down; the e2e tests
    // exercise them.
    '!src/app/runtime.ts',
    '!src/app/local-runtime.ts',
    '!src/app/process-defaults.ts',
    '!src/app/kubernetes-adapters.ts',
  ],
  // What the sandbox does not need (a smaller copy, a faster start).
  ignorePatterns: ['.kfm', '.cluster', '.scratch', '.serverless', '.esbuild', 'dist', 'coverage', 'reports', 'tools/node22/node_modules'],
  reporters: ['clear-text', 'progress', 'html'],
  htmlReporter: { fileName: 'reports/mutation/index.html' },
  clearTextReporter: { allowColor: true, logTests: false, maxTestsToLog: 0 },
  thresholds: { high: 90, low: 80, break: 80 },
  // Two cores shared with other builds: two test runners at most.
  concurrency: 2,
  // Jest's ESM module registry leaks in a long-lived process (a runner grew to
  // ~3 GB in a few hundred runs and slowed down with it): a fresh runner every
  // so many mutants is cheaper than the garbage collection.
  maxTestRunnerReuse: 40,
  // Generous: the machine is busy, and a slow mutant is not a killed one. A
  // timeout costs its wait plus a restarted test runner, hence not more.
  timeoutMS: 10000,
  timeoutFactor: 2,
  dryRunTimeoutMinutes: 10,
  // Incremental: a run re-tests only the mutants whose code or covering tests
  // changed since the last one (the results live in reports/, git-ignored);
  // `npm run mutation -- --force` re-tests everything.
  incremental: true,
  incrementalFile: 'reports/stryker-incremental.json',
  tempDirName: '.stryker-tmp',
};
