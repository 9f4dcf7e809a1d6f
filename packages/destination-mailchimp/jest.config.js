module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'destination-mailchimp',
  rootDir: __dirname,
};
