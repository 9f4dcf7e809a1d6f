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

/** Where the intake looks sources up: the workspace file today, the store once it exists. */
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
