export * from './transform-contract';
export * from './plugins';
