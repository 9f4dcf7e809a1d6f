import 'reflect-metadata';
import { runProcess } from '@tessera/nest-platform';
import { IngestModule } from './ingest.module';
import { ingestPaths } from './ingest.paths';

void runProcess({ name: 'ingest', modules: [IngestModule], paths: ingestPaths });
