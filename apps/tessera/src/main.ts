import 'reflect-metadata';
import { ConsoleModule, consolePaths } from '@tessera/console';
import { IngestModule, ingestPaths } from '@tessera/ingest';
import { runProcess } from '@tessera/nest-platform';
import { SandboxModule, sandboxPaths } from '@tessera/sandbox';
import { PipelineModule } from '@tessera/worker';

// The all-in-one process of the embedded default: every app module in one Nest application on one port. The
// ESP sandbox (unauthenticated, writable) is mounted only when TESSERA_SANDBOX is on: the default outside
// production, an explicit choice in it.
void runProcess({
  name: 'all-in-one',
  modules: ({ settings }) => [
    IngestModule,
    ...(settings.sandbox ? [SandboxModule] : []),
    PipelineModule,
    ConsoleModule.forRoot(PipelineModule),
  ],
  paths: (runtime) => [
    ...ingestPaths(runtime),
    ...consolePaths(runtime),
    ...(runtime.settings.sandbox ? sandboxPaths(runtime) : []),
  ],
});
