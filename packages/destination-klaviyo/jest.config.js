module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'destination-klaviyo',
  rootDir: __dirname,
};
