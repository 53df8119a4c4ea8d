// Native ESM (run with --experimental-vm-modules); ts-jest only transpiles, `tsc --noEmit` type-checks.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }],
  },
  testMatch: ['<rootDir>/test/**/*.test.ts', '<rootDir>/src/**/*.test.ts'],
  testTimeout: 30000,
  // Every test file: no registered secret may show in logs, responses or stored non-Secret objects.
  setupFilesAfterEnv: ['<rootDir>/test/support/leak-guard.setup.ts'],
};
