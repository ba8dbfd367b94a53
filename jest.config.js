/**
 * Tests run through @swc/jest, which only strips types: `tsc --noEmit` in `npm run check` already type-checks every
 * file, so type-checking each test file again (as ts-jest does) would only cost time.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': [
      '@swc/jest',
      { jsc: { parser: { syntax: 'typescript' }, target: 'es2022' }, module: { type: 'commonjs' } },
    ],
  },
  setupFiles: ['<rootDir>/test/setup-env.ts'],
  testTimeout: 60000,
  // Coverage of the code the tests load in-process (spawned CLIs are not counted), printed as a table.
  collectCoverage: true,
  coverageProvider: 'v8',
  collectCoverageFrom: ['core/**/*.ts', 'functions/**/*.ts', 'workflows/**/*.ts', 'infra/**/*.ts', 'local/**/*.ts'],
  coverageReporters: ['text'],
};
