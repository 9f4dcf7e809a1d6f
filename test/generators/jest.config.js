// The generator tier of the end-to-end tests: runs `nx g` for real in this workspace, then checks the generated
// package with tsc, eslint, prettier and jest. Run with `npx nx test e2e-generators` (or
// `npx jest -c test/generators/jest.config.js`). rootDir is test/ so that ts-jest uses test/tsconfig.json.
module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'e2e-generators',
  rootDir: require('node:path').join(__dirname, '..'),
  testMatch: ['<rootDir>/generators/**/*.e2e.spec.ts'],
  // Each check spawns a real tool (nx, tsc, eslint, jest) on a shared 2-core machine.
  testTimeout: 180_000,
};
