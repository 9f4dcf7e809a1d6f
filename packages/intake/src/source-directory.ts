/** A source as the intake needs it. */
export interface RegisteredSource {
  id: string;
  brand: string;
  /** One or two `whsec_…` secrets: two are valid while a secret is being rotated. */
  secrets: string[];
  typeMap: Record<string, string>;
  /** Events per second (the token bucket's refill rate and burst). */
  rateLimit: number;
}

/** Where the intake looks sources up: a fixed list, or the store (`ReloadingSourceDirectory`). */
export interface SourceDirectory {
  find(sourceId: string): RegisteredSource | undefined;
}

export class InMemorySourceDirectory implements SourceDirectory {
  private readonly sources: Map<string, RegisteredSource>;

  constructor(sources: RegisteredSource[]) {
    this.sources = new Map(sources.map((source) => [source.id, source]));
  }

  find(sourceId: string): RegisteredSource | undefined {
    return this.sources.get(sourceId);
  }
}

export interface ReloadingSourceDirectoryOptions {
  /** The sources to serve until the first reload finishes (what the process loaded at start). */
  initial: readonly RegisteredSource[];
  /** Every source as stored now. */
  load: () => Promise<RegisteredSource[]>;
  /** Moves whenever a source, a secret or a brand changes: the directory reloads only then. */
  fingerprint: () => Promise<string>;
  /** How often the fingerprint is read (default 1 s). */
  intervalMs?: number;
  /** Told when a reload failed (the store is down): the directory keeps serving the sources it has. */
  onReloadFailed?: (error: Error) => void;
  /** Told after each reload that changed the sources (ids added and removed). */
  onReloaded?: (change: { sources: number; added: string[]; removed: string[] }) => void;
}

/**
 * Sources that follow the store: a timer reads the fingerprint and, when it moved, loads every source and
 * swaps the map at once. `find` stays synchronous and never waits for the store (a request sees the map of
 * the last reload that finished), so a new source, a rotated or revoked secret applies within the interval.
 */
export class ReloadingSourceDirectory implements SourceDirectory {
  private sources: Map<string, RegisteredSource>;
  private fingerprint: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;

  constructor(private readonly options: ReloadingSourceDirectoryOptions) {
    this.sources = new Map(options.initial.map((source) => [source.id, source]));
  }

  find(sourceId: string): RegisteredSource | undefined {
    return this.sources.get(sourceId);
  }

  /** Starts polling. The first poll always reloads: the store may have moved since the initial sources. */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => void this.reload(), this.options.intervalMs ?? 1000);
    this.timer.unref();
  }

  /** Reloads if the fingerprint moved; one reload at a time (a tick during one joins it). */
  reload(): Promise<void> {
    this.reloading ??= this.reloadIfMoved().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    await this.reloading;
  }

  private async reloadIfMoved(): Promise<void> {
    try {
      const fingerprint = await this.options.fingerprint();
      if (fingerprint === this.fingerprint) return;
      const loaded = await this.options.load();
      const next = new Map(loaded.map((source) => [source.id, source]));
      const added = [...next.keys()].filter((id) => !this.sources.has(id));
      const removed = [...this.sources.keys()].filter((id) => !next.has(id));
      this.sources = next;
      this.fingerprint = fingerprint;
      this.options.onReloaded?.({ sources: next.size, added, removed });
    } catch (error) {
      // The fingerprint is left as it was: the next tick tries again.
      this.options.onReloadFailed?.(error instanceof Error ? error : new Error(String(error)));
    }
  }
}
