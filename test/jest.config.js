module.exports = {
  ...require('../jest.preset.js'),
  displayName: 'e2e',
  rootDir: __dirname,
  testMatch: ['<rootDir>/e2e/**/*.spec.ts'],
  // Each file starts real processes; give them room on a 2-core machine.
  testTimeout: 30_000,
};
