export * from './transform-contract';
export * from './plugins';
export * from './rules';
export * from './transform-harness';
