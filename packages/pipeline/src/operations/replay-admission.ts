import { SUPPRESSION_OPERATIONS, type SuppressionList } from '@tessera/consent';
import type { IdentityGraph } from '@tessera/identity-graph';
import type { DeliveryItem } from '@tessera/queues';
import type { Store } from '@tessera/store';
import { eventKeyString } from '../stages/event-identity';
import type { RawEventLog } from '../store/raw-event-log.repository';
import type { ReplayRefusal } from './delivery-replay.service';

export interface ReplayAdmissionOptions {
  store: Store;
  graph: Pick<IdentityGraph, 'customerViews'>;
  suppressions: Pick<SuppressionList, 'isSuppressed'>;
  rawLog: Pick<RawEventLog, 'erasedAmong' | 'erasedCustomersAmong'>;
  /** Blind indexes of the email and phone an operation item carries (normalized as the identity graph does). */
  contactKeysOf(brand: string, data: Record<string, unknown>): string[];
}

/**
 * What a re-send must honour before anything leaves (dead-letter replay; rehydration goes through the route
 * stage's consent gate): an item whose person was erased — their customer id is tombstoned and has no profile
 * again, or its event is a tombstone —
 * is refused whatever the operation but a deletion; an item whose contact point (as the item carries it, or as
 * the profile holds it now) is suppressed for its brand or every brand is refused unless it is a suppression or
 * deletion call. A few set-based queries per batch.
 */
export class ReplayAdmission {
  constructor(private readonly options: ReplayAdmissionOptions) {}

  async refusals(entries: { brand: string; item: DeliveryItem }[]): Promise<(ReplayRefusal | undefined)[]> {
    if (entries.length === 0) return [];
    const customerIds = [...new Set(entries.flatMap(({ item }) => item.customerId ?? []))];
    const tombstoned = await this.options.rawLog.erasedCustomersAmong(customerIds);
    // A person who came back since (an explicit registration) has a profile again: only the tombstoned ones
    // without one are erased.
    const existing = new Set(
      tombstoned.size === 0
        ? []
        : (
            await this.options.store.query<{ customer_id: string }>(
              'SELECT customer_id FROM identity_profiles WHERE customer_id = ANY($1::text[])',
              [[...tombstoned]],
            )
          ).map((row) => row.customer_id),
    );
    const erasedCustomers = new Set([...tombstoned].filter((id) => !existing.has(id)));
    const erasedEvents = await this.options.rawLog.erasedAmong(
      entries.flatMap(({ item }) => (item.event === undefined ? [] : [item.event])),
    );
    const views = await this.options.graph.customerViews(
      customerIds.filter((id) => !erasedCustomers.has(id)),
    );
    const contactKeys = entries.map(({ brand, item }) => {
      // A letter may lack its operation's item (rows written by hand, older rows): it then names no contact point.
      const keys = this.options.contactKeysOf(
        brand,
        (item.operation.item ?? {}) as unknown as Record<string, unknown>,
      );
      const view = item.customerId === undefined ? undefined : views.get(item.customerId);
      if (view?.email !== undefined) keys.push(view.email.key);
      if (view?.phone !== undefined) keys.push(view.phone.key);
      return keys;
    });
    const suppressed = new Map<string, Set<string>>();
    for (const brand of new Set(entries.map((entry) => entry.brand))) {
      const keys = [
        ...new Set(
          entries.flatMap((entry, index) => (entry.brand === brand ? (contactKeys[index] ?? []) : [])),
        ),
      ];
      suppressed.set(
        brand,
        keys.length === 0 ? new Set() : await this.options.suppressions.isSuppressed(keys, brand),
      );
    }
    return entries.map(({ brand, item }, index) => {
      const operation = item.operation.operation;
      const erased =
        (item.customerId !== undefined && erasedCustomers.has(item.customerId)) ||
        (item.event !== undefined && erasedEvents.has(eventKeyString(item.event)));
      if (erased) return operation === 'deleteProfiles' ? undefined : 'erased';
      const blocked = (contactKeys[index] ?? []).some((key) => suppressed.get(brand)?.has(key) === true);
      return blocked && !SUPPRESSION_OPERATIONS.has(operation) ? 'suppressed' : undefined;
    });
  }
}
