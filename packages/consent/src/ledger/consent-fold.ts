import type { ConsentEntry, ConsentScope, ConsentState } from '../consent-contract';

/** A ledger entry as read back from the ledger (with its id), or one not yet written (without). */
export type FoldableEntry = ConsentEntry & { id?: number };

/** A grant the fold did not apply, and why. */
export interface RefusedEntry<Entry extends FoldableEntry = FoldableEntry> {
  entry: Entry;
  reason: string;
}

export const REGRANT_WITHOUT_PROOF = 're-grant after withdrawal needs a proofRef (new provenance)';
export const REGRANT_REPLAYED_PROOF = 're-grant after withdrawal reuses the proofRef of an earlier grant';

/** The key of one contact point and scope: what one `consent_state` row is about. */
export function consentScopeKey(subjectKey: string, scope: ConsentScope): string {
  return [subjectKey, scope.brand, scope.channel, scope.purpose].join('\u0000');
}

function capturedMs(entry: FoldableEntry): number {
  return Date.parse(entry.provenance.capturedAt);
}

/**
 * The order the fold applies entries in: by `capturedAt`; at equal times a grant before a withdrawal (so the
 * withdrawal wins); then by `dedupeKey` (unique in the ledger), which makes the order total and independent
 * of the order entries arrived or were listed in.
 */
export function compareConsentEntries(a: FoldableEntry, b: FoldableEntry): number {
  const byTime = capturedMs(a) - capturedMs(b);
  if (byTime !== 0) return byTime;
  if (a.decision !== b.decision) return a.decision === 'granted' ? -1 : 1;
  if (a.dedupeKey === b.dedupeKey) return 0;
  return a.dedupeKey < b.dedupeKey ? -1 : 1;
}

/**
 * True when `entry` is a withdrawal an ESP reported without a change time (stamped when Tessera observed it) that
 * may predate `deciding`, a grant: the ESP was last seen holding the member subscribed before that grant was
 * captured (or never), so the opt-out may have happened before the grant. Such a withdrawal stays in the
 * ledger but does not override the grant.
 */
export function observedWithdrawalYields(entry: FoldableEntry, deciding: FoldableEntry | undefined): boolean {
  if (entry.decision !== 'withdrawn' || deciding?.decision !== 'granted') return false;
  const proof = entry.provenance.proof;
  if (proof?.['time_basis'] !== 'observed') return false;
  const seen = proof['seen_subscribed_at'];
  const seenMs = typeof seen === 'string' ? Date.parse(seen) : Number.NaN;
  return Number.isNaN(seenMs) || capturedMs(deciding) > seenMs;
}

/**
 * Folds the entries of one contact point and scope, and reports the grants it refused. A later entry
 * overrides an earlier one, except that a grant following a withdrawal (a re-grant) needs new provenance: a
 * `proofRef` that no earlier grant of this contact point and scope used. A refused grant changes nothing; nor
 * does an observed-time withdrawal that may predate the standing grant (`observedWithdrawalYields`).
 */
export function replayConsent<Entry extends FoldableEntry>(
  entries: readonly Entry[],
): { state: ConsentState | undefined; refused: RefusedEntry<Entry>[] } {
  if (entries.length === 0) return { state: undefined, refused: [] };
  const scopeKey = consentScopeKey(entries[0].subject.key, entries[0].scope);
  if (entries.some((entry) => consentScopeKey(entry.subject.key, entry.scope) !== scopeKey)) {
    throw new Error('replayConsent: the entries are about more than one contact point and scope');
  }
  const ordered = [...entries].sort(compareConsentEntries);
  const usedProofs = new Set<string>();
  const refused: RefusedEntry<Entry>[] = [];
  let deciding: Entry | undefined;
  for (const entry of ordered) {
    if (entry.decision === 'granted' && deciding?.decision === 'withdrawn') {
      const proofRef = entry.provenance.proofRef;
      if (proofRef === undefined || proofRef === '') {
        refused.push({ entry, reason: REGRANT_WITHOUT_PROOF });
        continue;
      }
      if (usedProofs.has(proofRef)) {
        refused.push({ entry, reason: REGRANT_REPLAYED_PROOF });
        continue;
      }
    }
    if (observedWithdrawalYields(entry, deciding)) continue;
    if (entry.decision === 'granted' && entry.provenance.proofRef !== undefined) {
      usedProofs.add(entry.provenance.proofRef);
    }
    deciding = entry;
  }
  if (deciding === undefined) return { state: undefined, refused };
  return {
    state: {
      subject: { type: deciding.subject.type, key: deciding.subject.key },
      scope: {
        brand: deciding.scope.brand,
        channel: deciding.scope.channel,
        purpose: deciding.scope.purpose,
      },
      decision: deciding.decision,
      legalBasis: deciding.legalBasis,
      capturedAt: new Date(capturedMs(deciding)).toISOString(),
      ledgerId: deciding.id ?? 0,
    },
    refused,
  };
}

/**
 * The current consent of one contact point for one scope, from its ledger entries (in any order). Entries
 * without an id (not yet written) give `ledgerId` 0. Undefined when there are none.
 */
export function foldConsent(entries: readonly FoldableEntry[]): ConsentState | undefined {
  return replayConsent(entries).state;
}

/** Groups entries by contact point and scope. */
export function groupByConsentScope<Entry extends FoldableEntry>(
  entries: readonly Entry[],
): Map<string, Entry[]> {
  const groups = new Map<string, Entry[]>();
  for (const entry of entries) {
    const key = consentScopeKey(entry.subject.key, entry.scope);
    const group = groups.get(key);
    if (group === undefined) groups.set(key, [entry]);
    else group.push(entry);
  }
  return groups;
}

/** The fold of every contact point and scope the entries name, one state each. */
export function foldConsentStates(entries: readonly FoldableEntry[]): ConsentState[] {
  const states: ConsentState[] = [];
  for (const group of groupByConsentScope(entries).values()) {
    const state = foldConsent(group);
    if (state !== undefined) states.push(state);
  }
  return states;
}
