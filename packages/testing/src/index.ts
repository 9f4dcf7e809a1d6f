export { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from './redis-namespace';
export { signedBinaryHeaders, signedHeaders, type SigningOptions } from './signed-request';
export { createTestRuntime, testWorkspace, type TestRuntime } from './test-runtime';
export { queuedEvents } from './queued-events';
export { waitFor } from './wait-for';
