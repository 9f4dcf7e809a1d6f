module.exports = { ...require('../../jest.preset.js'), displayName: 'destination-sfmc', rootDir: __dirname };
