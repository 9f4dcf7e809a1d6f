import type { MembershipMergedData } from '@tessera/events';
import { definePlugin, type DestinationOperation } from '@tessera/transform';
import { profileUpsert } from './profile-items';

export interface MergeCleanupConfig {
  action: 'suppress' | 'delete';
}

const sameAddress = (a: string | undefined, b: string | undefined) =>
  a !== undefined && b !== undefined && a.trim().toLowerCase() === b.trim().toLowerCase();

/**
 * After two customer records merge, the ESP still holds the losing record's contact: suppress (or delete) it,
 * unless it is the survivor's own address, and refresh the survivor.
 */
export const mergeCleanupPlugin = definePlugin<MergeCleanupConfig>({
  name: 'merge-cleanup',
  version: '1.0.0',
  description:
    "On membership.merged, suppresses (or deletes) the merged-away duplicate's contact in the ESP and refreshes the survivor.",
  configSchema: {
    type: 'object',
    properties: { action: { enum: ['suppress', 'delete'], default: 'suppress' } },
    additionalProperties: false,
  },
  transform(event, profile, { config }) {
    if (event.type !== 'membership.merged') return [];
    const data = event.data as unknown as MembershipMergedData;
    const operations: DestinationOperation[] = [];
    if (data.from_customer_id !== profile.customer_id) {
      const duplicate = {
        customerId: data.from_customer_id,
        ...(data.email === undefined || sameAddress(data.email, profile.email) ? {} : { email: data.email }),
        ...(data.phone === undefined || data.phone === profile.phone ? {} : { phone: data.phone }),
      };
      // Without a contact point of its own, the duplicate cannot be told apart from the survivor in the ESP.
      if (duplicate.email !== undefined || duplicate.phone !== undefined) {
        operations.push(
          config.action === 'delete'
            ? { operation: 'deleteProfiles', item: duplicate }
            : { operation: 'suppress', item: duplicate },
        );
      }
    }
    operations.push({
      operation: 'upsertProfiles',
      item: profileUpsert(profile, { merged_customer_ids: [data.from_customer_id] }),
    });
    return operations;
  },
});
