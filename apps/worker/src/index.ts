export * from './transform.module';
