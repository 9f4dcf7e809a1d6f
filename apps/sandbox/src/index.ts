export * from './sandbox.module';
export * from './sandbox.paths';
export * from './sandbox-configuration';
