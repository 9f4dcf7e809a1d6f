export * from './destination-registry';
export * from './plugin-registry';
export * from './workspace-rules';
export * from './workspace-destinations';
export * from './stored-workspace';
