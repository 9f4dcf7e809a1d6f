module.exports = { ...require('../../jest.preset.js'), displayName: 'transform', rootDir: __dirname };
