module.exports = { ...require('../../jest.preset.js'), displayName: 'destination-braze', rootDir: __dirname };
