import { type DynamicModule, Module, type Type } from '@nestjs/common';
import { ApiKeyBook, WorkspaceCatalog } from '@tessera/control-plane';
import { workspaceCatalogOf } from '@tessera/destination-registry';
import { RUNTIME, STORE } from '@tessera/nest-platform';
import type { TesseraRuntime } from '@tessera/runtime';
import type { Store } from '@tessera/store';
import { ConsoleAccessGuard } from './console-access.guard';
import { CONSOLE_CONTROLLERS } from './console-controllers';
import { ConsoleDependencies } from './console-dependencies';
import { ConsoleSurface } from './console-surface';

/**
 * The console: the control-plane API under /v1 (API keys, roles, audit), its OpenAPI document at /docs, the
 * web UI at /console and Bull Board at /queues, wired to the workspace catalog and the pipeline.
 */
@Module({})
export class ConsoleModule {
  /**
   * The console on a pipeline module: the running one in the all-in-one process (`PipelineModule`: the same
   * worker serves both), or `PipelineAccessModule` when the console runs alone (no stage runs in it).
   */
  static forRoot(pipeline: Type): DynamicModule {
    return {
      module: ConsoleModule,
      imports: [pipeline],
      controllers: CONSOLE_CONTROLLERS,
      providers: [
        { provide: ApiKeyBook, inject: [STORE], useFactory: (store: Store) => new ApiKeyBook(store) },
        {
          provide: WorkspaceCatalog,
          inject: [RUNTIME],
          useFactory: (runtime: TesseraRuntime) => workspaceCatalogOf(runtime),
        },
        ConsoleDependencies,
        ConsoleAccessGuard,
        ConsoleSurface,
      ],
    };
  }
}
