export * from './destination-registry';
