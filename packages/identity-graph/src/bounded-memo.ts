/**
 * Remembers computed values by key, up to a bound: past it the oldest entry goes first. For pure, costly
 * computations over values that recur (a busy member's phone number, an identifier's blind index).
 */
export class BoundedMemo<V> {
  private readonly values = new Map<string, V>();

  constructor(private readonly limit: number) {}

  get(key: string, compute: () => V): V {
    const known = this.values.get(key);
    if (known !== undefined) return known;
    const value = compute();
    if (this.values.size >= this.limit) {
      const oldest = this.values.keys().next();
      if (oldest.done !== true) this.values.delete(oldest.value);
    }
    this.values.set(key, value);
    return value;
  }
}
