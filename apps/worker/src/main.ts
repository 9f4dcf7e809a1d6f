import 'reflect-metadata';
import { runProcess } from '@tessera/nest-platform';
import { PipelineModule } from './pipeline.module';

// The worker alone (scale-out): the pipeline's stages, plus /healthz, /readyz and /metrics on PORT.
void runProcess({
  name: 'worker',
  modules: [PipelineModule],
  paths: () => [
    ['health', '/healthz'],
    ['metrics', '/metrics'],
  ],
});
