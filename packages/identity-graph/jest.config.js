module.exports = { ...require('../../jest.preset.js'), displayName: 'identity-graph', rootDir: __dirname };
