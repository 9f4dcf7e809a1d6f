import type { InboundUnsubscribe } from '@tessera/destination-kit';
import type { CatalogEvent } from '@tessera/events';
import { normalizeEmail, normalizePhone } from '@tessera/identity-graph';
import type { PiiVault } from '@tessera/store';
import type { ConsentChannel, ConsentEntry, ConsentSubject, SubjectType } from '../consent-contract';

export const DEFAULT_PURPOSE = 'marketing';

export type Subject = { ok: true; type: SubjectType; key: string } | { ok: false; reason: string };

/** The blind index of the contact point a channel's consent is about, or why there is none. */
export function contactPoint(
  channel: ConsentChannel,
  values: { email?: string; phone?: string; anonymousId?: string },
  vault: PiiVault,
  defaultCountry: string,
): Subject {
  if (channel === 'email') {
    if (values.email === undefined) return { ok: false, reason: 'names no email address for channel email' };
    const email = normalizeEmail(values.email);
    return email.ok
      ? { ok: true, type: 'email', key: vault.blindIndex('email', email.value) }
      : { ok: false, reason: `email dropped: ${email.reason}` };
  }
  if (channel === 'sms') {
    if (values.phone === undefined) return { ok: false, reason: 'names no phone number for channel sms' };
    const phone = normalizePhone(values.phone, defaultCountry);
    return phone.ok
      ? { ok: true, type: 'phone', key: vault.blindIndex('phone', phone.value) }
      : { ok: false, reason: `phone dropped: ${phone.reason}` };
  }
  const device = values.anonymousId?.trim() ?? '';
  if (device === '') return { ok: false, reason: 'names no anonymous_id (device) for channel mobile_push' };
  return { ok: true, type: 'device', key: vault.blindIndex('device', device) };
}

/**
 * The ledger entry of a `consent.changed` event: one for the contact point that matches its channel (the
 * email for `email`, the phone for `sms`, the device — `anonymous_id` — for `mobile_push`). A contact point
 * that is missing or does not normalize is dropped with a reason. The proof's IP address is kept as a blind
 * index only (`ip_index`): ledger rows are never erased, so they hold no plaintext personal data.
 */
export function entriesFromConsentEvent(
  event: CatalogEvent<'consent.changed'>,
  context: {
    vault: PiiVault;
    defaultCountry: string;
    sourceId: string;
    receivedAt: Date;
    customerId?: string;
  },
): { entries: ConsentEntry[]; dropped: string[] } {
  const data = event.data;
  const subject = contactPoint(
    data.channel,
    { email: data.email, phone: data.phone, anonymousId: data.anonymous_id },
    context.vault,
    context.defaultCountry,
  );
  if (!subject.ok) return { entries: [], dropped: [subject.reason] };
  const customerId = context.customerId ?? data.customer_id;
  const consentSubject: ConsentSubject = {
    type: subject.type,
    key: subject.key,
    ...(customerId === undefined ? {} : { customerId }),
  };
  let proof: Record<string, unknown> | undefined;
  if (data.proof !== undefined) {
    const { ip, ...rest } = data.proof;
    proof = { ...rest, ...(ip === undefined ? {} : { ip_index: context.vault.blindIndex('ip', ip.trim()) }) };
  }
  const entry: ConsentEntry = {
    subject: consentSubject,
    scope: { brand: data.brand, channel: data.channel, purpose: data.purpose ?? DEFAULT_PURPOSE },
    decision: data.status,
    legalBasis: data.legal_basis,
    provenance: {
      source: context.sourceId,
      noticeVersion: data.notice_version,
      ...(data.proof?.reference === undefined ? {} : { proofRef: data.proof.reference }),
      ...(proof === undefined ? {} : { proof }),
      capturedAt: data.captured_at,
      receivedAt: context.receivedAt.toISOString(),
      actor: `source:${context.sourceId}`,
    },
    dedupeKey: `event:${event.source}:${event.id}:${subject.key}`,
  };
  return { entries: [entry], dropped: [] };
}

/**
 * Ledger entries (withdrawals of marketing consent) for opt-outs a destination read from its ESP. A change
 * whose contact point is missing or does not normalize yields no entry.
 */
/** Where inbound opt-outs come from: the brand, the reporting destination, and how to key contact points. */
export interface InboundContext {
  vault: PiiVault;
  defaultCountry: string;
  brand: string;
  /** The destination that reported the changes. */
  destinationId: string;
  receivedAt: Date;
  /**
   * The last time the reporting ESP was seen holding the change's contact point subscribed (ISO 8601), for
   * opt-outs timed by observation (`timeBasis: 'observed'`): the fold lets such a withdrawal override no grant
   * newer than that.
   */
  seenSubscribedAt?: (change: InboundUnsubscribe) => string | undefined;
}

/** The blind-index domain of ESP event ids in the ledger (`proof.esp_event_key`, the dedupe key). */
const ESP_EVENT_INDEX = 'esp-event';

/**
 * The ledger's dedupe key of an ESP's opt-out: the destination and a keyed hash of the ESP's event id (an id may
 * carry the contact point — Braze's does — and the ledger is never erased).
 */
export function inboundDedupeKey(vault: PiiVault, destinationId: string, eventId: string): string {
  return `esp:${destinationId}:${vault.blindIndex(ESP_EVENT_INDEX, eventId)}`;
}

export function entriesFromInboundUnsubscribes(
  changes: readonly InboundUnsubscribe[],
  context: InboundContext,
): ConsentEntry[] {
  const source = `esp:${context.destinationId}`;
  const entries: ConsentEntry[] = [];
  for (const change of changes) {
    const subject = contactPoint(
      change.channel,
      { email: change.email, phone: change.phone },
      context.vault,
      context.defaultCountry,
    );
    if (!subject.ok) continue;
    // An ESP's event id may carry the contact point (Braze's does: its unsubscribe export has no id of its own),
    // and the ledger is never erased: it keeps a keyed hash of the id, which dedupes a re-poll all the same.
    const eventKey = context.vault.blindIndex(ESP_EVENT_INDEX, change.eventId);
    const dedupeKey = inboundDedupeKey(context.vault, context.destinationId, change.eventId);
    entries.push({
      subject: {
        type: subject.type,
        key: subject.key,
        ...(change.customerId === undefined ? {} : { customerId: change.customerId }),
      },
      scope: { brand: context.brand, channel: change.channel, purpose: DEFAULT_PURPOSE },
      decision: 'withdrawn',
      legalBasis: 'consent',
      provenance: {
        source,
        proof: {
          change: change.change,
          esp_event_key: eventKey,
          ...(change.timeBasis === 'observed'
            ? { time_basis: 'observed', seen_subscribed_at: context.seenSubscribedAt?.(change) ?? null }
            : {}),
        },
        capturedAt: change.occurredAt,
        receivedAt: context.receivedAt.toISOString(),
        actor: source,
      },
      dedupeKey,
    });
  }
  return entries;
}
