import { RuleLimitError } from './rule-errors';

/** Converts what a mapping expression returned into the JSON value the upsert's attributes carry. */
export class JsonValueConverter {
  constructor(
    private readonly maxItems: number,
    private readonly maxStringLength: number,
  ) {}

  /** Throws a `RangeError` naming the problem when the value is not representable, a `RuleLimitError` when too large. */
  convert(value: unknown): unknown {
    const budget = { items: 0 };
    return this.convertValue(value, budget, 0);
  }

  private convertValue(value: unknown, budget: { items: number }, depth: number): unknown {
    if (value === null || value === undefined) return null;
    switch (typeof value) {
      case 'string':
        if (value.length > this.maxStringLength) {
          throw new RuleLimitError(`result is a string longer than ${this.maxStringLength} characters`);
        }
        return value;
      case 'boolean':
        return value;
      case 'number':
        if (!Number.isFinite(value)) throw new RangeError(`result ${String(value)} is not a JSON number`);
        return value;
      case 'bigint':
        return bigintToNumber(value);
      case 'object':
        break;
      default:
        throw new RangeError(`result of type ${typeof value} is not JSON`);
    }
    if (depth >= 32) throw new RuleLimitError('result is nested more than 32 levels deep');
    if (value instanceof Date) {
      if (Number.isNaN(value.getTime())) throw new RangeError('result is an invalid timestamp');
      return value.toISOString();
    }
    if (Array.isArray(value) || value instanceof Set) {
      return [...value].map((item: unknown) =>
        this.convertValue(this.count(item, budget), budget, depth + 1),
      );
    }
    if (value instanceof Map) {
      const object: Record<string, unknown> = {};
      for (const [key, item] of value) {
        object[String(key)] = this.convertValue(this.count(item, budget), budget, depth + 1);
      }
      return object;
    }
    if (value instanceof Uint8Array) throw new RangeError('result is bytes, which are not JSON');
    const constructorName = (value as { constructor?: { name?: string } }).constructor?.name;
    if (constructorName === 'UnsignedInt') {
      return bigintToNumber((value as { valueOf(): bigint }).valueOf());
    }
    if (constructorName === 'Duration' || constructorName === 'Optional' || constructorName === 'Type') {
      throw new RangeError(`result of type ${constructorName} is not JSON`);
    }
    const object: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (item === undefined) continue;
      object[key] = this.convertValue(this.count(item, budget), budget, depth + 1);
    }
    return object;
  }

  private count(item: unknown, budget: { items: number }): unknown {
    if (++budget.items > this.maxItems) {
      throw new RuleLimitError(`result has more than ${this.maxItems} items`);
    }
    return item;
  }
}

function bigintToNumber(value: bigint): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeError(`result ${value} is outside the integers JSON numbers represent exactly`);
  }
  return Number(value);
}
