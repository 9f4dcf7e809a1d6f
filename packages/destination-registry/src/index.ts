export * from './destination-registry';
export * from './plugin-registry';
