export { IngestModule } from './ingest.module';
export { ingestPaths } from './ingest.paths';
