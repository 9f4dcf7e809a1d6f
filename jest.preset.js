// Shared jest settings. Type checking is the `typecheck` target's job, so ts-jest only transpiles.
/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json', diagnostics: false }],
    // ESM-only dependencies: Node 20 requires them natively, jest (before Node 24.9) needs them as CommonJS.
    '/node_modules/(@marcbachmann/cel-js|content-disposition)/.+\\.js$': [
      'ts-jest',
      { tsconfig: { allowJs: true, module: 'commonjs', target: 'es2022' }, diagnostics: false },
    ],
  },
  transformIgnorePatterns: ['/node_modules/(?!(@marcbachmann/cel-js|content-disposition)/)'],
  moduleFileExtensions: ['ts', 'js', 'json'],
  testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.spec.ts'],
  setupFiles: ['reflect-metadata'],
  // Medium and end-to-end tests start real things (PGlite's initdb, a Tessera process) on a shared
  // 2-core machine while other projects' suites run beside them: 5 s is too tight for a hook there.
  testTimeout: 30_000,
};
