export * from './destination-definition';
export * from './delivery-errors';
export * from './retry-policy';
export * from './http-client';
export * from './batch-outcome';
export * from './profile-coalescer';
export * from './openapi-contract';
export * from './contract-suite';
