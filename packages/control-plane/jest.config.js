module.exports = { ...require('../../jest.preset.js'), displayName: 'control-plane', rootDir: __dirname };
