import type {
  ItemResult,
  ProfileUpsert,
  SegmentMembership,
  SubscriptionChange,
} from '@tessera/destination-kit';
import type { SyncChange, SyncRecord } from '../store/destination-sync-state.repository';

/** Why an item was not sent: the destination holds it already. */
export const UNCHANGED_DETAIL = 'unchanged: the destination holds it already';

/** What to send of one profile update, and the hashes to remember once the ESP accepted it. */
export interface ProfilePlan {
  /** The update to send (only changed attributes); undefined when nothing changed. */
  send?: ProfileUpsert;
  /** Attribute → hash of the values sent. */
  hashes: Record<string, string>;
}

/**
 * Change-only writes for one flush: given what the destination last accepted of each customer (the sync state),
 * decides what still needs sending — the attributes whose value changed (Braze bills each one), memberships and
 * subscriptions that differ — and gathers what the ESP accepted, for the sync state. A forced write (replay,
 * rehydration) sends everything and still records what was accepted.
 */
export class ChangeOnlyWrites {
  private readonly learned = new Map<string, SyncChange>();

  constructor(
    private readonly known: ReadonlyMap<string, SyncRecord>,
    private readonly hash: (attribute: string, value: unknown) => string,
  ) {}

  /** The ESP's id of the customer's contact, when a previous write returned it. */
  externalIdOf(customerId: string): string | undefined {
    return this.learned.get(customerId)?.externalId ?? this.known.get(customerId)?.externalId;
  }

  planProfile(update: ProfileUpsert, force: boolean): ProfilePlan {
    const hashes: Record<string, string> = {};
    for (const [name, value] of Object.entries(update.attributes)) hashes[name] = this.hash(name, value);
    if (update.email !== undefined) hashes['$email'] = this.hash('$email', update.email);
    if (update.phone !== undefined) hashes['$phone'] = this.hash('$phone', update.phone);
    const known = this.known.get(update.customerId);
    const externalId = update.externalId ?? this.externalIdOf(update.customerId);
    const withId = externalId === undefined ? update : { ...update, externalId };
    if (force || known === undefined) return { send: withId, hashes };
    const changed = Object.keys(update.attributes).filter((name) => known.attributes[name] !== hashes[name]);
    const contactChanged = ['$email', '$phone'].some(
      (name) => hashes[name] !== undefined && known.attributes[name] !== hashes[name],
    );
    if (changed.length === 0 && !contactChanged) return { hashes };
    const attributes: Record<string, unknown> = {};
    for (const name of changed) attributes[name] = update.attributes[name];
    return { send: { ...withId, attributes }, hashes };
  }

  /** Remembers what the ESP accepted of a profile: every hash sent but those of the fields it refused. */
  acceptedProfile(plan: ProfilePlan, result: ItemResult | undefined): void {
    if (plan.send === undefined || result?.status !== 'ok') return;
    const omitted = new Set((result.omittedFields ?? []).map((field) => field.field));
    const attributes: Record<string, string> = {};
    for (const name of [...Object.keys(plan.send.attributes), '$email', '$phone']) {
      const hash = plan.hashes[name];
      if (hash !== undefined && !omitted.has(name)) attributes[name] = hash;
    }
    this.merge(plan.send.customerId, {
      attributes,
      ...(result.externalId === undefined ? {} : { externalId: result.externalId }),
    });
  }

  /** True when the membership change must be sent (the ESP is not known to hold it already). */
  needsMembership(item: SegmentMembership, member: boolean, force: boolean): boolean {
    return force || this.known.get(item.customerId)?.memberships[item.segment] !== member;
  }

  acceptedMembership(item: SegmentMembership, member: boolean, result: ItemResult | undefined): void {
    if (result?.status !== 'ok') return;
    this.merge(item.customerId, {
      memberships: { [item.segment]: member },
      ...(result.externalId === undefined ? {} : { externalId: result.externalId }),
    });
  }

  needsSubscription(item: SubscriptionChange, state: 'subscribed' | 'unsubscribed', force: boolean): boolean {
    return force || this.known.get(item.customerId)?.subscriptions[item.channel] !== state;
  }

  acceptedSubscription(
    item: SubscriptionChange,
    state: 'subscribed' | 'unsubscribed',
    result: ItemResult | undefined,
  ): void {
    if (result?.status !== 'ok') return;
    this.merge(item.customerId, {
      subscriptions: { [item.channel]: state },
      ...(result.externalId === undefined ? {} : { externalId: result.externalId }),
    });
  }

  /** Everything this flush learned, per customer, for `DestinationSyncState.write`. */
  changes(): ReadonlyMap<string, SyncChange> {
    return this.learned;
  }

  private merge(customerId: string, change: SyncChange): void {
    const current = this.learned.get(customerId) ?? {};
    this.learned.set(customerId, {
      ...current,
      ...(change.externalId === undefined ? {} : { externalId: change.externalId }),
      attributes: { ...current.attributes, ...change.attributes },
      memberships: { ...current.memberships, ...change.memberships },
      subscriptions: { ...current.subscriptions, ...change.subscriptions },
    });
  }
}
