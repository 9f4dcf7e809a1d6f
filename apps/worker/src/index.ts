export * from './transform.module';
export * from './consent.module';
