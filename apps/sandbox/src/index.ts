export * from './sandbox.module';
export * from './sandbox.paths';
