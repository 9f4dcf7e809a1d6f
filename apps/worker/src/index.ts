export * from './transform.module';
export * from './consent.module';
export * from './pipeline.module';
