import type { ConsentLedger } from '@tessera/consent';
import {
  type DeliveryCursor,
  type DeliveryLog,
  type DeliveryRecord,
  DELIVERY_CURSOR_PATTERN,
  formatDeliveryCursor,
  maskContactPointsIn,
} from '@tessera/pipeline';

/** Proof fields that describe the person (the IP's blind index links them across entries): `***` without pii.read. */
const PERSONAL_PROOF_FIELDS = new Set(['ip', 'ip_index', 'user_agent', 'email', 'phone', 'name']);

/** A consent proof for a reader without pii.read: personal fields `***`, contact points in any text masked. */
export function maskConsentProof(proof: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(proof).map(([field, value]) => [
      field,
      PERSONAL_PROOF_FIELDS.has(field.toLowerCase()) ? '***' : maskContactPointsIn(value),
    ]),
  );
}

/**
 * A profile's current consent per contact point, brand, channel and purpose, with the provenance of the ledger
 * entry that decided it (source, actor, notice version, proof reference and proof, when it was captured and
 * recorded): what the access export shows, on the profile. `contactPoints` maps blind indexes to shown values.
 */
export async function consentSection(
  ledger: Pick<ConsentLedger, 'stateInEveryBrand' | 'entriesById'>,
  contactPoints: ReadonlyMap<string, string>,
  mayReadPii: boolean,
) {
  const states = await ledger.stateInEveryBrand([...contactPoints.keys()]);
  const deciding = new Map(
    (await ledger.entriesById(states.map((state) => state.ledgerId))).map((entry) => [entry.id, entry]),
  );
  return states.map((state) => {
    const provenance = deciding.get(state.ledgerId)?.provenance;
    const proofRef = provenance?.proofRef;
    const proof = provenance?.proof;
    return {
      brand: state.scope.brand,
      subject: contactPoints.get(state.subject.key) ?? '***',
      channel: state.scope.channel,
      purpose: state.scope.purpose,
      status: state.decision,
      legalBasis: state.legalBasis,
      capturedAt: state.capturedAt,
      ledgerId: state.ledgerId,
      ...(provenance === undefined
        ? {}
        : {
            receivedAt: provenance.receivedAt,
            source: provenance.source,
            actor: provenance.actor,
            ...(provenance.noticeVersion === undefined ? {} : { noticeVersion: provenance.noticeVersion }),
            ...(proofRef === undefined
              ? {}
              : { proofRef: mayReadPii ? proofRef : maskContactPointsIn(proofRef) }),
            ...(proof === undefined ? {} : { proof: mayReadPii ? proof : maskConsentProof(proof) }),
          }),
    };
  });
}

/** The default and largest page of a profile's deliveries. */
export const DELIVERY_PAGE = { default: 20, max: 200 } as const;

/**
 * A page of a customer's deliveries, newest first, and the cursor of the next (`null` after the last). Event
 * keys a source built from a contact point are masked without pii.read (as the profile's history is).
 */
export async function deliveriesPage(
  log: Pick<DeliveryLog, 'pageForCustomer'>,
  customerId: string,
  page: { limit: number; before?: DeliveryCursor },
  mayReadPii: boolean,
): Promise<{ deliveries: DeliveryRecord[]; nextCursor: string | null }> {
  const { entries, next } = await log.pageForCustomer(customerId, page);
  return {
    deliveries: mayReadPii
      ? entries
      : entries.map((entry) => ({
          ...entry,
          ...(entry.eventSource === undefined ? {} : { eventSource: maskContactPointsIn(entry.eventSource) }),
          ...(entry.eventId === undefined ? {} : { eventId: maskContactPointsIn(entry.eventId) }),
        })),
    nextCursor: next === undefined ? null : formatDeliveryCursor(next),
  };
}

/** `GET /v1/profiles/{reference}/deliveries`: a page size and the previous page's `nextCursor`. */
export const PROFILE_DELIVERIES_QUERY = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: DELIVERY_PAGE.max, default: DELIVERY_PAGE.default },
    cursor: { type: 'string', pattern: DELIVERY_CURSOR_PATTERN },
  },
};
