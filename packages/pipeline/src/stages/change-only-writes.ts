import type {
  ItemResult,
  OperationItems,
  OperationName,
  ProfileUpsert,
  SegmentMembership,
  SubscriptionChange,
} from '@tessera/destination-kit';
import type { DeliveryItem } from '@tessera/queues';
import type { OperationRunner } from './deliver-stage.service';
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
    /** The ESP keys profiles by customer id: an email or phone it holds already need not travel again. */
    private readonly keyedByCustomerId = false,
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
    const send: ProfileUpsert = { ...withId, attributes };
    if (this.keyedByCustomerId) {
      if (known.attributes['$email'] === hashes['$email']) delete send.email;
      if (known.attributes['$phone'] === hashes['$phone']) delete send.phone;
    }
    return { send, hashes };
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
      // The ESP created the contact: it is in nothing Tessera has not put it in.
      ...(result.created === true ? { membershipsComplete: true } : {}),
    });
  }

  /** True when the membership change must be sent (the ESP is not known to hold it already). */
  needsMembership(item: SegmentMembership, member: boolean, force: boolean): boolean {
    if (force) return true;
    const learned = this.learned.get(item.customerId);
    const known = this.known.get(item.customerId);
    const holds = learned?.memberships?.[item.segment] ?? known?.memberships[item.segment];
    // Where Tessera knows every membership (it created the contact), an absent one is a 'no'.
    const complete = learned?.membershipsComplete === true || known?.membershipsComplete === true;
    return (holds ?? (complete ? false : undefined)) !== member;
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
      ...(change.membershipsComplete === true ? { membershipsComplete: true } : {}),
      attributes: { ...current.attributes, ...change.attributes },
      memberships: { ...current.memberships, ...change.memberships },
      subscriptions: { ...current.subscriptions, ...change.subscriptions },
    });
  }
}

/** The operations whose items change a membership or a subscription, and the state each one leads to. */
const CHANGE_OPERATIONS: Partial<
  Record<
    OperationName,
    { kind: 'membership'; member: boolean } | { kind: 'subscription'; state: 'subscribed' | 'unsubscribed' }
  >
> = {
  addToSegment: { kind: 'membership', member: true },
  removeFromSegment: { kind: 'membership', member: false },
  subscribe: { kind: 'subscription', state: 'subscribed' },
  unsubscribe: { kind: 'subscription', state: 'unsubscribed' },
};

/** The customers a batch's items concern (for one sync-state read). */
export function customersOf(items: readonly DeliveryItem[]): string[] {
  const ids = new Set<string>();
  for (const item of items) {
    const customerId = item.customerId ?? (item.operation.item as { customerId?: string }).customerId;
    if (customerId !== undefined) ids.add(customerId);
  }
  return [...ids];
}

/**
 * Keeps, of the membership changes (add/remove) of one customer and segment and the subscription changes of one
 * customer and channel, only the latest (by the event's arrival, then batch order): a window may hold both an
 * add and a later remove, and the operation order would otherwise apply them the wrong way round.
 */
export function latestChanges(
  items: readonly DeliveryItem[],
  superseded: (item: DeliveryItem) => void,
): DeliveryItem[] {
  const latest = new Map<string, { item: DeliveryItem; at: number; position: number }>();
  items.forEach((item, position) => {
    const kind = CHANGE_OPERATIONS[item.operation.operation]?.kind;
    if (kind === undefined) return;
    const payload = item.operation.item as { customerId: string; segment?: string; channel?: string };
    const key = `${kind}\u0000${payload.customerId}\u0000${payload.segment ?? payload.channel ?? ''}`;
    const at = Date.parse(item.receivedAt) || 0;
    const known = latest.get(key);
    if (known === undefined || at > known.at || (at === known.at && position > known.position))
      latest.set(key, { item, at, position });
  });
  const kept = new Set([...latest.values()].map((entry) => entry.item));
  return items.filter((item) => {
    if (CHANGE_OPERATIONS[item.operation.operation] === undefined || kept.has(item)) return true;
    superseded(item);
    return false;
  });
}

/**
 * Sends the profiles whose attributes or contact points changed since the destination last accepted them
 * (only the changed attributes), and remembers what it accepted; the others are answered 'unchanged'.
 */
export async function sendChangedProfiles(
  writes: ChangeOnlyWrites,
  runner: OperationRunner,
  profiles: ProfileUpsert[],
  forced: ReadonlySet<number>,
): Promise<(ItemResult | 'unchanged')[]> {
  const name = 'upsertProfiles';
  const plans: ProfilePlan[] = profiles.map((profile, index) =>
    writes.planProfile(profile, forced.has(index)),
  );
  const sending = plans.flatMap((plan, index) => (plan.send === undefined ? [] : [index]));
  const answers =
    sending.length === 0
      ? []
      : await runner.run(
          name,
          sending.map((index) => (plans[index] as ProfilePlan).send as ProfileUpsert),
        );
  const results: (ItemResult | 'unchanged')[] = plans.map(() => 'unchanged');
  sending.forEach((index, position) => {
    const answer = answers[position] as ItemResult;
    results[index] = answer;
    writes.acceptedProfile(plans[index] as ProfilePlan, answer);
  });
  return results;
}

/**
 * Runs a non-profile operation: memberships and subscriptions the destination is known to hold already are
 * answered without a request (unless forced), the others carry the ESP's id of the contact when known.
 */
export async function runChangedItems(
  call: {
    runner: OperationRunner;
    name: OperationName;
    writes: ChangeOnlyWrites;
    unchanged: Set<DeliveryItem>;
  },
  group: DeliveryItem[],
): Promise<ItemResult[]> {
  const { runner, name, writes } = call;
  const payloads = group.map((item) => item.operation.item);
  const change = CHANGE_OPERATIONS[name];
  const needed = group.map((item, index) => {
    if (change === undefined) return true;
    const payload = payloads[index] as SegmentMembership & SubscriptionChange;
    const force = item.force === true;
    return change.kind === 'membership'
      ? writes.needsMembership(payload, change.member, force)
      : writes.needsSubscription(payload, change.state, force);
  });
  const sending = group.flatMap((_, index) => (needed[index] === true ? [index] : []));
  const answers =
    sending.length === 0
      ? []
      : await runner.run(
          name,
          sending.map((index) => {
            const payload = payloads[index] as { customerId?: string; externalId?: string };
            const externalId =
              payload.externalId ??
              (payload.customerId === undefined ? undefined : writes.externalIdOf(payload.customerId));
            return externalId === undefined ? payload : { ...payload, externalId };
          }) as OperationItems[typeof name][],
        );
  const results: ItemResult[] = group.map(() => ({ status: 'ok' }));
  group.forEach((item, index) => {
    if (needed[index] !== true) call.unchanged.add(item);
  });
  sending.forEach((index, position) => {
    const answer = answers[position] as ItemResult;
    results[index] = answer;
    const payload = payloads[index] as SegmentMembership & SubscriptionChange;
    if (change?.kind === 'membership') writes.acceptedMembership(payload, change.member, answer);
    else if (change?.kind === 'subscription') writes.acceptedSubscription(payload, change.state, answer);
  });
  return results;
}
