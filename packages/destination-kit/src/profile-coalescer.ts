import type { ProfileUpsert } from './destination-definition';

export interface CoalescedProfiles {
  /** One update per distinct customerId, in order of first appearance. */
  profiles: ProfileUpsert[];
  /** `outputIndex[i]` is the index in `profiles` that input `i` collapsed into. */
  outputIndex: number[];
}

/**
 * Collapses the updates of one window to one per customer. The highest `version` wins (ties: the later
 * in input order); attributes, email, phone, the guest flag and the ESP's id are merged oldest to newest, so newer values overwrite
 * older ones and values only older updates carry are kept. Use `outputIndex` to fan results back.
 */
export function coalesceProfileUpdates(updates: readonly ProfileUpsert[]): CoalescedProfiles {
  const slots = new Map<string, number>();
  const groups: { customerId: string; indexes: number[] }[] = [];
  const outputIndex = updates.map((update, index) => {
    let slot = slots.get(update.customerId);
    if (slot === undefined) {
      slot = groups.push({ customerId: update.customerId, indexes: [] }) - 1;
      slots.set(update.customerId, slot);
    }
    groups[slot].indexes.push(index);
    return slot;
  });

  const profiles = groups.map(({ customerId, indexes }) => {
    // Oldest first; equal versions keep input order, so the later one is applied last and wins.
    const sorted = [...indexes].sort((a, b) => updates[a].version - updates[b].version || a - b);
    const merged: ProfileUpsert = { customerId, version: updates[sorted[0]].version, attributes: {} };
    for (const index of sorted) {
      const update = updates[index];
      merged.version = update.version;
      if (update.email !== undefined) merged.email = update.email;
      if (update.phone !== undefined) merged.phone = update.phone;
      // The newest word on identity wins: a guest that became a member is a member; an ESP id learned later.
      if (update.guest !== undefined) merged.guest = update.guest;
      if (update.externalId !== undefined) merged.externalId = update.externalId;
      for (const [key, value] of Object.entries(update.attributes)) {
        if (value !== undefined) merged.attributes[key] = value;
      }
    }
    return merged;
  });
  return { profiles, outputIndex };
}
