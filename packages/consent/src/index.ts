export * from './consent-contract';
