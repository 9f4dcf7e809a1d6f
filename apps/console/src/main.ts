import 'reflect-metadata';
import { runProcess } from '@tessera/nest-platform';
import { PipelineAccessModule } from '@tessera/worker';
import { ConsoleModule } from './console.module';
import { consolePaths } from './console.paths';

// The console alone (production): the control-plane API, the web UI, the API docs and Bull Board on PORT,
// over the store and Redis the workers use; it runs no pipeline stage itself.
void runProcess({
  name: 'console',
  modules: [ConsoleModule.forRoot(PipelineAccessModule)],
  paths: (runtime) => [...consolePaths(runtime), ['health', '/healthz'], ['metrics', '/metrics']],
});
