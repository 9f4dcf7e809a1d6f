import { Inject, Injectable } from '@nestjs/common';
import { AuditLog, ConsentLedger } from '@tessera/consent';
import { ApiKeyBook, WorkspaceCatalog } from '@tessera/control-plane';
import { IdentityGraph, MatchReview } from '@tessera/identity-graph';
import { RUNTIME, STORE } from '@tessera/nest-platform';
import { PipelineOperations, PipelineWorker } from '@tessera/pipeline';
import type { TesseraRuntime } from '@tessera/runtime';
import { PiiVault, type Store } from '@tessera/store';

/**
 * What the console's routes call, built once: the workspace catalog, the API keys, the audit log, the pipeline
 * (the worker of this process, or one built without stages when the console runs alone) and, per request,
 * the operations and the identity graph with the workspace's current brands.
 */
@Injectable()
export class ConsoleDependencies {
  readonly vault: PiiVault;
  readonly audit: AuditLog;
  readonly ledger: ConsentLedger;

  constructor(
    @Inject(RUNTIME) readonly runtime: TesseraRuntime,
    @Inject(STORE) readonly store: Store,
    @Inject(WorkspaceCatalog) readonly catalog: WorkspaceCatalog,
    @Inject(ApiKeyBook) readonly keys: ApiKeyBook,
    @Inject(PipelineWorker) readonly worker: PipelineWorker,
  ) {
    this.vault = new PiiVault(runtime.masterKeys);
    this.audit = new AuditLog(store);
    this.ledger = new ConsentLedger(store);
  }

  /** The pipeline's operations, acting as `actor`, checking references against the stored workspace. */
  async operations(actor: string): Promise<PipelineOperations> {
    const [brands, sources] = await Promise.all([this.catalog.brands(), this.catalog.sources()]);
    return new PipelineOperations({
      worker: this.worker,
      store: this.store,
      audit: this.audit,
      brands,
      sources,
      actor,
    });
  }

  /** The identity graph with the workspace's brands as they are now (their default countries read phones). */
  async graph(): Promise<IdentityGraph> {
    const brands = await this.catalog.brands();
    return new IdentityGraph({
      store: this.store,
      vault: this.vault,
      brands: brands.map((brand) => ({ id: brand.id, defaultCountry: brand.defaultCountry })),
    });
  }

  async reviews(): Promise<MatchReview> {
    return new MatchReview(await this.graph());
  }
}
