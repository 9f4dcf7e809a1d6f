import type { PersonalDataKind } from '@tessera/events';

/**
 * The single customer view's fields and how each one combines values that arrive out of order:
 * - `latest`: the value with the newest event time wins, so a late, older event never overwrites it;
 * - `max`: the greatest value wins (dates as ISO strings);
 * - `sum`: amounts add up (each event is applied once: the raw event log dedupes before resolution);
 * - `by-brand`: a map whose entries each follow `latest` (source ids per brand).
 * `pii` fields (their kind, as the event catalog names kinds) are sealed at rest with the contact points, and
 * masked with the catalog's placeholders where a reader may not see personal data.
 */
export const PROFILE_TRAITS = {
  first_name: { policy: 'latest', pii: 'name' },
  last_name: { policy: 'latest', pii: 'name' },
  address: { policy: 'latest', pii: 'address' },
  date_of_birth: { policy: 'latest', pii: 'date' },
  loyalty_tier: { policy: 'latest', pii: false },
  points_balance: { policy: 'latest', pii: false },
  preferred_channel: { policy: 'latest', pii: false },
  locale: { policy: 'latest', pii: false },
  last_purchase_date: { policy: 'max', pii: false },
  total_lifetime_value: { policy: 'sum', pii: false },
  source_ids: { policy: 'by-brand', pii: false },
} as const satisfies Record<
  string,
  { policy: 'latest' | 'max' | 'sum' | 'by-brand'; pii: false | PersonalDataKind }
>;

export type TraitName = keyof typeof PROFILE_TRAITS;
export type TraitValues = Partial<Record<TraitName, unknown>>;

/** A profile's traits with the event time of each value (ISO strings; `source_ids.<brand>` per entry). */
export interface TraitState {
  values: TraitValues;
  times: Record<string, string>;
}

export const emptyTraits = (): TraitState => ({ values: {}, times: {} });

/** Applies one event's trait values, observed at `eventTime`, to a state (returns a new state). */
export function applyTraits(state: TraitState, update: TraitValues, eventTime: Date): TraitState {
  const values: TraitValues = { ...state.values };
  const times = { ...state.times };
  const at = eventTime.toISOString();
  let changed = false;
  // A value set at its time; the same value again at the same time (a replayed event) changes nothing.
  const setLatest = (target: Record<string, unknown>, field: string, timeKey: string, value: unknown) => {
    if (times[timeKey] !== undefined && times[timeKey] > at) return;
    if (times[timeKey] !== at || JSON.stringify(target[field]) !== JSON.stringify(value)) changed = true;
    target[field] = value;
    times[timeKey] = at;
  };
  const touch = (name: string) => {
    if (times[name] === undefined || times[name] < at) {
      times[name] = at;
      changed = true;
    }
  };
  for (const [name, value] of Object.entries(update) as Array<[TraitName, unknown]>) {
    if (value === undefined || !Object.hasOwn(PROFILE_TRAITS, name)) continue;
    const { policy } = PROFILE_TRAITS[name];
    if (policy === 'latest') {
      setLatest(values, name, name, value);
    } else if (policy === 'max') {
      if (values[name] === undefined || String(values[name]) < String(value)) {
        values[name] = value;
        changed = true;
      }
      touch(name);
    } else if (policy === 'sum') {
      if (values[name] === undefined || Number(value) !== 0) changed = true;
      values[name] = roundMoney(Number(values[name] ?? 0) + Number(value));
      touch(name);
    } else {
      const current = { ...((values[name] as Record<string, unknown> | undefined) ?? {}) };
      for (const [brand, id] of Object.entries(value as Record<string, unknown>)) {
        setLatest(current, brand, `${name}.${brand}`, id);
      }
      // An empty map adds nothing: keeping it would make the result depend on the order of arrival.
      if (Object.keys(current).length > 0) values[name] = current;
    }
  }
  // Unchanged, the caller gets its own state back: that is how it knows nothing needs writing.
  return changed ? { values, times } : state;
}

/** Combines two profiles' traits when they merge: per field, as if every value had arrived at one. */
export function mergeTraits(a: TraitState, b: TraitState): TraitState {
  const values: TraitValues = {};
  const times: Record<string, string> = {};
  for (const name of Object.keys(PROFILE_TRAITS) as TraitName[]) {
    const { policy } = PROFILE_TRAITS[name];
    const [va, vb] = [a.values[name], b.values[name]];
    const [ta, tb] = [a.times[name], b.times[name]];
    if (va === undefined && vb === undefined) continue;
    const newer = (ta ?? '') > (tb ?? '') ? ta : tb;
    if (policy === 'latest') {
      const aWins = vb === undefined || (va !== undefined && (ta ?? '') >= (tb ?? ''));
      values[name] = aWins ? va : vb;
      times[name] = (aWins ? ta : tb) as string;
    } else if (policy === 'max') {
      values[name] = vb === undefined || (va !== undefined && String(va) >= String(vb)) ? va : vb;
      times[name] = newer as string;
    } else if (policy === 'sum') {
      values[name] = roundMoney(Number(va ?? 0) + Number(vb ?? 0));
      times[name] = newer as string;
    } else {
      const merged: Record<string, unknown> = {};
      const brands = new Set([
        ...Object.keys((va as Record<string, unknown>) ?? {}),
        ...Object.keys((vb as Record<string, unknown>) ?? {}),
      ]);
      for (const brand of [...brands].sort()) {
        const key = `${name}.${brand}`;
        const fromA = (va as Record<string, unknown> | undefined)?.[brand];
        const fromB = (vb as Record<string, unknown> | undefined)?.[brand];
        const aWins =
          fromB === undefined || (fromA !== undefined && (a.times[key] ?? '') >= (b.times[key] ?? ''));
        merged[brand] = aWins ? fromA : fromB;
        times[key] = (aWins ? a.times[key] : b.times[key]) as string;
      }
      values[name] = merged;
    }
  }
  return { values, times };
}

/** Splits a state into what is stored in the clear and what is sealed. */
export function partitionTraits(values: TraitValues): { plain: TraitValues; pii: TraitValues } {
  const plain: TraitValues = {};
  const pii: TraitValues = {};
  for (const [name, value] of Object.entries(values) as Array<[TraitName, unknown]>) {
    if (PROFILE_TRAITS[name]?.pii) pii[name] = value;
    else plain[name] = value;
  }
  return { plain, pii };
}

// Money is kept to the cent; binary floating point must not accumulate 0.1 + 0.2 errors over years.
const roundMoney = (value: number) => Math.round(value * 100) / 100;
