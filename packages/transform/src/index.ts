export * from './transform-contract';
