module.exports = { ...require('../../jest.preset.js'), displayName: 'transform-plugins', rootDir: __dirname };
