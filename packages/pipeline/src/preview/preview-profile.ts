import {
  applyTraits,
  normalizeIdentifiers,
  type CustomerView,
  type IdentityGraph,
  type NormalizedIdentifier,
  type TraitState,
} from '@tessera/identity-graph';
import type { IngestedEvent } from '@tessera/queues';
import { identityRecordOf } from '../stages/event-identity';

/** The identity graph's read-only side, as the preview uses it. */
export type PreviewGraph = Pick<
  IdentityGraph,
  'customerViews' | 'resolveReference' | 'survivorsOf' | 'defaultCountry' | 'config' | 'keys' | 'store'
>;

export interface PreviewProfile {
  /** Undefined when the event carries no usable identifier: the pipeline would route nothing. */
  view?: CustomerView;
  notes: string[];
}

/** As the identity graph counts them (its own list is private): these make a profile a member, not a guest. */
const MEMBER_IDENTIFIER_TYPES = new Set(['customer_id', 'member', 'loyalty_card']);

/**
 * The profile an event would be routed with, read only: the stored profile its identifiers resolve to, with the
 * event's traits applied as resolution applies them (`applyTraits`), or — when none resolves — the profile the
 * graph would create from the event alone. `resolvedTo` is set for a stored event the pipeline already resolved:
 * its traits are in that profile already (applying them again would count sums twice).
 */
export async function previewProfile(
  graph: PreviewGraph,
  ingested: IngestedEvent,
  resolvedTo?: string,
): Promise<PreviewProfile> {
  const notes: string[] = [];
  const record = identityRecordOf(ingested);
  const { identifiers, dropped } = normalizeIdentifiers(
    record.identifiers,
    { defaultCountry: graph.defaultCountry(ingested.brand), brand: ingested.brand },
    graph.config,
  );
  for (const identifier of dropped)
    notes.push(`identifier ${identifier.field} left out: ${identifier.reason}`);

  if (resolvedTo !== undefined) {
    const customerId = (await graph.survivorsOf(graph.store, [resolvedTo])).get(resolvedTo) ?? resolvedTo;
    const view = (await graph.customerViews([customerId])).get(customerId);
    if (view !== undefined) {
      notes.push(
        `profile of customer ${customerId} as stored (version ${view.version}): the event was applied to it when it was resolved`,
      );
      return { view, notes };
    }
  }
  if (identifiers.length === 0) {
    notes.push('no usable identifier: the pipeline would keep the event in the raw log and route nothing');
    return { notes };
  }

  const found: string[] = [];
  for (const identifier of identifiers) {
    const customerId = await graph.resolveReference(graph.store, identifier);
    if (customerId !== undefined) found.push(customerId);
  }
  const survivors = await graph.survivorsOf(graph.store, found);
  const profiles = [...new Set(found.map((id) => survivors.get(id) ?? id))];
  const views = await graph.customerViews(profiles);
  const storedId = profiles.find((id) => views.has(id));
  const contacts = contactPointsOf(graph, identifiers);
  const member = identifiers.some((identifier) => MEMBER_IDENTIFIER_TYPES.has(identifier.type));

  const stored = storedId === undefined ? undefined : views.get(storedId);
  if (stored !== undefined) {
    if (profiles.length > 1) {
      notes.push(
        `the event's identifiers belong to ${profiles.length} profiles (${profiles.join(', ')}): resolving it may merge them; previewed on ${stored.customerId}`,
      );
    }
    const before: TraitState = { values: stored.traits, times: stored.traitTimes };
    const after = applyTraits(before, record.traits ?? {}, record.eventTime);
    // Resolution writes (and bumps the version of) only a profile the event changed.
    const version = after === before ? stored.version : stored.version + 1;
    notes.push(
      after === before
        ? `profile of customer ${stored.customerId} as stored (version ${stored.version}): the event changes none of its traits`
        : `profile of customer ${stored.customerId} as stored (version ${stored.version}), with the event applied (version ${version})`,
    );
    return {
      view: {
        ...stored,
        version,
        traits: after.values,
        traitTimes: after.times,
        ...contacts,
        guest: stored.guest && !member,
      },
      notes,
    };
  }

  const strongest = identifiers[0] as NormalizedIdentifier;
  const customerId = graph.keys.ownCustomerId(strongest);
  const state = applyTraits({ values: {}, times: {} }, record.traits ?? {}, record.eventTime);
  notes.push(
    `no stored profile: built from the event alone (customer ${customerId}, the id the identity graph would give it)`,
  );
  return {
    view: {
      customerId,
      version: 1,
      traits: state.values,
      traitTimes: state.times,
      ...contacts,
      guest: !member,
    },
    notes,
  };
}

/** The event's email and phone with their blind indexes: resolution makes them the profile's latest seen. */
function contactPointsOf(
  graph: PreviewGraph,
  identifiers: readonly NormalizedIdentifier[],
): Pick<CustomerView, 'email' | 'phone'> {
  const contacts: Pick<CustomerView, 'email' | 'phone'> = {};
  for (const identifier of identifiers) {
    if (identifier.type !== 'email' && identifier.type !== 'phone') continue;
    contacts[identifier.type] ??= { value: identifier.value, key: graph.keys.lookupKey(identifier) };
  }
  return contacts;
}
