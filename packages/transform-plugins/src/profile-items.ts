import type { ProfileUpsert } from '@tessera/destination-kit';
import type { UnifiedProfile } from '@tessera/transform';

/** The profile's upsert item with `attributes`, carrying its contact points when it has them. */
export function profileUpsert(profile: UnifiedProfile, attributes: Record<string, unknown>): ProfileUpsert {
  return {
    customerId: profile.customer_id,
    version: profile.version,
    ...(profile.email === undefined ? {} : { email: profile.email }),
    ...(profile.phone === undefined ? {} : { phone: profile.phone }),
    attributes,
  };
}
