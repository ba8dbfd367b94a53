/**
 * Tests are only transpiled (test/esbuild-transform.js): `tsc --noEmit` in `npm run check` already type-checks.
 * @type {import('jest').Config}
 */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // The pack-and-install test compiles the native SQLite binding into a fresh prefix (minutes): CI runs it as a
  // step of its own (`npm run test:install`, in .ci/run) so that `npm test` stays within two minutes.
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/test/e2e/install/'],
  transform: { '^.+\\.ts$': '<rootDir>/test/esbuild-transform.js' },
  // Sources name the modules they import dynamically by their built `.js` names (as Node's ES modules need): the
  // TypeScript files under them.
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  setupFiles: ['<rootDir>/test/setup-env.ts'],
  // The tests spawn the built CLI: it is rebuilt from the sources first.
  globalSetup: '<rootDir>/scripts/jest-global-setup.ts',
  testTimeout: 60000,
  // `npm run coverage`: coverage of the code the tests load in-process (spawned CLIs are not counted), printed as a
  // table. Not part of `npm test`: instrumenting the sources costs a fresh clone's run noticeable time. Istanbul
  // instruments keymat's own files only; V8's precise coverage slowed every function run, aws-cdk-lib's and the SDK's
  // included.
  coverageProvider: 'babel',
  collectCoverageFrom: ['core/**/*.ts', 'functions/**/*.ts', 'workflows/**/*.ts', 'infra/**/*.ts', 'local/**/*.ts'],
  coverageReporters: ['text'],
  // The slowest suites first (test/helpers/suite-durations.json), so that the workers finish together. (`npm test`
  // runs three workers on two cores: many suites wait on child processes, sockets and timers, which a third fills.)
  testSequencer: '<rootDir>/test/helpers/sequencer.js',
  // Each suite's time after the run, slowest first.
  reporters: ['default', '<rootDir>/scripts/suite-times.js'],
};
