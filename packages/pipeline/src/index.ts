export * from './store';
export * from './stages';
export * from './destination-directory';
export * from './pipeline-metrics';
export * from './pipeline-worker';
export * from './inbound';
export * from './operations/pipeline-operations.service';
