/**
 * The value a map must hold for `key`. The graph code only asks for keys it put there itself, so a missing
 * one is a bug, reported as one rather than surfacing later as `undefined`.
 */
export function entryOf<K, V>(map: ReadonlyMap<K, V>, key: K): V {
  const value = map.get(key);
  if (value === undefined) throw new Error(`identity graph: no entry for ${String(key)}`);
  return value;
}
