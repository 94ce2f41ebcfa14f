// Tests are compiled by tsc (npm test builds first) and run as native ES modules:
// no transform step, so what is tested is exactly what ships in dist/.
export default {
  testEnvironment: 'node',
  roots: ['<rootDir>/dist/test'],
  testMatch: ['**/*.test.js'],
  transform: {},
  testTimeout: 120000,
  reporters: ['default', '<rootDir>/test/summary-reporter.cjs'],
};
