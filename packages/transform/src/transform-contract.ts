import type { OperationItems, OperationName } from '@tessera/destination-kit';
import type { CatalogEvent, PostalAddress } from '@tessera/events';

export type Channel = 'email' | 'sms' | 'mobile_push';

/**
 * The unified profile as transformations see it: the identity graph's single customer view, with the
 * marketing consent of the brand being synced derived from the consent ledger (no record means no consent).
 */
export interface UnifiedProfile {
  customer_id: string;
  /** Increases with every change of the profile; orders updates (the kit's coalescing keeps the highest). */
  version: number;
  email?: string;
  /** E.164. */
  phone?: string;
  first_name?: string;
  last_name?: string;
  address?: PostalAddress;
  date_of_birth?: string;
  loyalty_tier?: string;
  points_balance?: number;
  /** When `points_balance` last changed (ISO 8601): what win-back rules measure stagnation by. */
  points_updated_at?: string;
  last_purchase_date?: string;
  total_lifetime_value?: number;
  preferred_channel?: Channel;
  locale?: string;
  /** The member's id in each brand's own system. */
  source_ids?: Record<string, string>;
  /** Per channel, for the brand being synced. */
  marketing_consent?: Partial<Record<Channel, 'granted' | 'withdrawn'>>;
}

export interface BrandContext {
  id: string;
  name: string;
  defaultCountry: string;
}

export interface DestinationContext {
  /** The brand destination's id in the workspace (e.g. `sd-klaviyo`). */
  id: string;
  /** Its destination type (e.g. `klaviyo`). */
  type: string;
}

/** One destination-kit operation with its item: what a transformation produces. */
export type DestinationOperation = {
  [K in OperationName]: { operation: K; item: OperationItems[K] };
}[OperationName];

/** Everything one transformation sees about one event. */
export interface TransformInput {
  event: CatalogEvent;
  profile: UnifiedProfile;
  brand: BrandContext;
  destination: DestinationContext;
  /** Evaluation time (ISO 8601), fixed per batch so that results are reproducible. */
  now: string;
}
