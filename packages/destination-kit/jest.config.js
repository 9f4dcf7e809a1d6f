module.exports = { ...require('../../jest.preset.js'), displayName: 'destination-kit', rootDir: __dirname };
