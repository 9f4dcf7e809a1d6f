module.exports = { ...require('../../jest.preset.js'), displayName: 'rule-book', rootDir: __dirname };
