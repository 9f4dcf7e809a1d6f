module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'destination-registry',
  rootDir: __dirname,
};
