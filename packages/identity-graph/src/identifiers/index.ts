export * from './identifier-types';
export * from './identity-config';
export * from './identifier-normalization';
