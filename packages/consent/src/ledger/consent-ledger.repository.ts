import { sqlFilter } from './sql-filter';
import type { SqlExecutor, Store } from '@tessera/store';
import {
  CONSENT_CHANNELS,
  type ConsentChannel,
  type ConsentDecision,
  type ConsentEntry,
  type ConsentState,
  type LegalBasis,
  type SubjectType,
} from '../consent-contract';
import { writeAuditRows, type AuditInput } from './audit-log.repository';
import { isBlindIndex } from './blind-index';
import { consentScopeKey, groupByConsentScope, replayConsent } from './consent-fold';

export interface AppendResult {
  /** Entries written to the ledger. */
  appended: number;
  /** Dedupe keys already in the ledger (or repeated within the call): skipped, not an error. */
  duplicates: string[];
  /** Entries not written: invalid, or a re-grant without new provenance. */
  refused: { dedupeKey: string; reason: string }[];
}

export interface HistoryFilter {
  customerId?: string;
  subjectKey?: string;
  /** Inclusive, on the time Tessera recorded the entry (`receivedAt`). */
  from?: Date;
  /** Exclusive, on `receivedAt`. */
  to?: Date;
}

export type LedgerEntry = ConsentEntry & { id: number };

const SUBJECT_TYPES: readonly SubjectType[] = ['email', 'phone', 'device'];
const DECISIONS: readonly ConsentDecision[] = ['granted', 'withdrawn'];
const LEGAL_BASES: readonly LegalBasis[] = ['consent', 'soft_opt_in', 'legitimate_interest'];
/** The kind of contact point each channel's consent is about. */
const SUBJECT_OF_CHANNEL: Readonly<Record<ConsentChannel, SubjectType>> = {
  email: 'email',
  sms: 'phone',
  mobile_push: 'device',
};

const LEDGER_COLUMNS = `id, subject_type, subject_key, customer_id, brand, channel, purpose, decision, legal_basis,
  source, notice_version, proof_ref, proof, captured_at, received_at, actor, dedupe_key`;

interface LedgerRow {
  id: number;
  subject_type: SubjectType;
  subject_key: string;
  customer_id: string | null;
  brand: string;
  channel: ConsentChannel;
  purpose: string;
  decision: ConsentDecision;
  legal_basis: LegalBasis;
  source: string;
  notice_version: string | null;
  proof_ref: string | null;
  proof: Record<string, unknown> | null;
  captured_at: Date;
  received_at: Date;
  actor: string;
  dedupe_key: string;
}

interface StateRow {
  subject_key: string;
  brand: string;
  channel: ConsentChannel;
  purpose: string;
  subject_type: SubjectType;
  decision: ConsentDecision;
  legal_basis: LegalBasis;
  captured_at: Date;
  ledger_id: number;
}

function toEntry(row: LedgerRow): LedgerEntry {
  return {
    id: row.id,
    subject: {
      type: row.subject_type,
      key: row.subject_key,
      ...(row.customer_id === null ? {} : { customerId: row.customer_id }),
    },
    scope: { brand: row.brand, channel: row.channel, purpose: row.purpose },
    decision: row.decision,
    legalBasis: row.legal_basis,
    provenance: {
      source: row.source,
      ...(row.notice_version === null ? {} : { noticeVersion: row.notice_version }),
      ...(row.proof_ref === null ? {} : { proofRef: row.proof_ref }),
      ...(row.proof === null ? {} : { proof: row.proof }),
      capturedAt: row.captured_at.toISOString(),
      receivedAt: row.received_at.toISOString(),
      actor: row.actor,
    },
    dedupeKey: row.dedupe_key,
  };
}

function toState(row: StateRow): ConsentState {
  return {
    subject: { type: row.subject_type, key: row.subject_key },
    scope: { brand: row.brand, channel: row.channel, purpose: row.purpose },
    decision: row.decision,
    legalBasis: row.legal_basis,
    capturedAt: row.captured_at.toISOString(),
    ledgerId: row.ledger_id,
  };
}

function isoTime(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms).toISOString();
}

function nonEmpty(value: unknown): boolean {
  return typeof value === 'string' && value.trim() !== '';
}

/** Why an entry cannot be written as it is, or undefined when it can. */
function invalidReason(entry: ConsentEntry): string | undefined {
  if (!nonEmpty(entry.dedupeKey)) return 'missing dedupeKey';
  if (!SUBJECT_TYPES.includes(entry.subject?.type)) return 'unknown subject type';
  if (typeof entry.subject.key !== 'string' || !isBlindIndex(entry.subject.key)) {
    return 'subject key is not a blind index (32 hex characters)';
  }
  if (!nonEmpty(entry.scope?.brand)) return 'missing brand';
  if (!CONSENT_CHANNELS.includes(entry.scope.channel)) return 'unknown channel';
  if (!nonEmpty(entry.scope.purpose)) return 'missing purpose';
  if (SUBJECT_OF_CHANNEL[entry.scope.channel] !== entry.subject.type) {
    return `${entry.scope.channel} consent must be about a ${SUBJECT_OF_CHANNEL[entry.scope.channel]} subject`;
  }
  if (!DECISIONS.includes(entry.decision)) return 'unknown decision';
  if (!LEGAL_BASES.includes(entry.legalBasis)) return 'unknown legal basis';
  if (!nonEmpty(entry.provenance?.source)) return 'missing source';
  if (!nonEmpty(entry.provenance.actor)) return 'missing actor';
  if (isoTime(entry.provenance.capturedAt) === undefined) return 'capturedAt is not a date-time';
  if (isoTime(entry.provenance.receivedAt) === undefined) return 'receivedAt is not a date-time';
  return undefined;
}

/** The entry with its times in canonical form (millisecond ISO 8601, UTC), as the ledger will return them. */
function canonical(entry: ConsentEntry): ConsentEntry {
  return {
    ...entry,
    provenance: {
      ...entry.provenance,
      capturedAt: isoTime(entry.provenance.capturedAt) ?? entry.provenance.capturedAt,
      receivedAt: isoTime(entry.provenance.receivedAt) ?? entry.provenance.receivedAt,
    },
  };
}

type Scope = { subjectKey: string; brand: string; channel: ConsentChannel; purpose: string };

function scopesOf(entries: readonly ConsentEntry[]): Scope[] {
  const scopes = new Map<string, Scope>();
  for (const entry of entries) {
    scopes.set(consentScopeKey(entry.subject.key, entry.scope), {
      subjectKey: entry.subject.key,
      brand: entry.scope.brand,
      channel: entry.scope.channel,
      purpose: entry.scope.purpose,
    });
  }
  return [...scopes.values()];
}

/** Every ledger entry of the given contact points and scopes: one query. */
async function ledgerOfScopes(tx: SqlExecutor, scopes: readonly Scope[]): Promise<LedgerEntry[]> {
  if (scopes.length === 0) return [];
  const rows = await tx.query<LedgerRow>(
    `SELECT ${LEDGER_COLUMNS.replace(/(\w+)/g, 'l.$1')} FROM consent_ledger AS l
       JOIN unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS s(subject_key, brand, channel, purpose)
         ON l.subject_key = s.subject_key AND l.brand = s.brand AND l.channel = s.channel AND l.purpose = s.purpose`,
    [
      scopes.map((scope) => scope.subjectKey),
      scopes.map((scope) => scope.brand),
      scopes.map((scope) => scope.channel),
      scopes.map((scope) => scope.purpose),
    ],
  );
  return rows.map(toEntry);
}

/** Upserts states (one statement), leaving rows that already hold the same decision untouched. */
async function writeStates(tx: SqlExecutor, states: readonly ConsentState[]): Promise<void> {
  if (states.length === 0) return;
  await tx.query(
    `INSERT INTO consent_state
       (subject_key, brand, channel, purpose, subject_type, decision, legal_basis, captured_at, ledger_id)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
                          $8::timestamptz[], $9::bigint[])
     ON CONFLICT (subject_key, brand, channel, purpose) DO UPDATE SET
       subject_type = EXCLUDED.subject_type, decision = EXCLUDED.decision, legal_basis = EXCLUDED.legal_basis,
       captured_at = EXCLUDED.captured_at, ledger_id = EXCLUDED.ledger_id
     WHERE consent_state.ledger_id IS DISTINCT FROM EXCLUDED.ledger_id`,
    [
      states.map((state) => state.subject.key),
      states.map((state) => state.scope.brand),
      states.map((state) => state.scope.channel),
      states.map((state) => state.scope.purpose),
      states.map((state) => state.subject.type),
      states.map((state) => state.decision),
      states.map((state) => state.legalBasis),
      states.map((state) => state.capturedAt),
      states.map((state) => state.ledgerId),
    ],
  );
}

function auditDetail(entry: ConsentEntry, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    brand: entry.scope.brand,
    channel: entry.scope.channel,
    purpose: entry.scope.purpose,
    decision: entry.decision,
    legalBasis: entry.legalBasis,
    source: entry.provenance.source,
    capturedAt: entry.provenance.capturedAt,
    dedupeKey: entry.dedupeKey,
    ...extra,
  };
}

/**
 * The append-only consent ledger and its derived `consent_state` (the fold of each contact point and scope's
 * entries, kept in step in the same transaction as every append). Consent is keyed by contact point (blind
 * index) and brand; a customer id is recorded for history only and never moves consent.
 */
/** Told, after each committed write, which contact points of which brand changed (the gate invalidates them). */
export type ConsentChangeListener = (subjectKeys: string[], brand: string) => Promise<void>;

/** Calls the listener once per brand with the keys written for it. */
export async function notifyConsentChange(
  listener: ConsentChangeListener | undefined,
  changes: readonly { subjectKey: string; brand: string }[],
): Promise<void> {
  if (listener === undefined || changes.length === 0) return;
  const byBrand = new Map<string, Set<string>>();
  for (const change of changes) {
    const keys = byBrand.get(change.brand) ?? new Set<string>();
    keys.add(change.subjectKey);
    byBrand.set(change.brand, keys);
  }
  for (const [brand, keys] of byBrand) await listener([...keys], brand);
}

export class ConsentLedger {
  private readonly now: () => Date;
  private readonly onChange?: ConsentChangeListener;

  /** `onChange`: e.g. `(keys, brand) => gate.invalidate(keys, brand)`, so every process's gate drops them. */
  constructor(
    private readonly store: Store,
    options: { now?: () => Date; onChange?: ConsentChangeListener } = {},
  ) {
    this.now = options.now ?? (() => new Date());
    if (options.onChange !== undefined) this.onChange = options.onChange;
  }

  /**
   * Appends entries in one transaction: one statement for the ledger rows, one for the states, one for the
   * audit rows. Duplicates (by dedupeKey) are skipped; invalid entries and re-grants without new provenance
   * are refused and not written. Concurrent appends to the same contact point and scope are serialized.
   */
  async append(entries: readonly ConsentEntry[]): Promise<AppendResult> {
    const refused: AppendResult['refused'] = [];
    const duplicates: string[] = [];
    const candidates: ConsentEntry[] = [];
    const seen = new Set<string>();
    for (const entry of entries) {
      const reason = invalidReason(entry);
      if (reason !== undefined) {
        refused.push({ dedupeKey: typeof entry.dedupeKey === 'string' ? entry.dedupeKey : '', reason });
      } else if (seen.has(entry.dedupeKey)) {
        duplicates.push(entry.dedupeKey);
      } else {
        seen.add(entry.dedupeKey);
        candidates.push(canonical(entry));
      }
    }
    if (candidates.length === 0) return { appended: 0, duplicates, refused };
    const at = this.now();
    const result = await this.write(candidates, at, duplicates, refused);
    // After the commit: a gate that reloads now reads the new state. Over-invalidating a duplicate is harmless.
    if (result.appended > 0) {
      await notifyConsentChange(
        this.onChange,
        candidates.map((entry) => ({ subjectKey: entry.subject.key, brand: entry.scope.brand })),
      );
    }
    return result;
  }

  private write(
    candidates: ConsentEntry[],
    at: Date,
    duplicates: string[],
    refused: AppendResult['refused'],
  ): Promise<AppendResult> {
    return this.store.transaction(async (tx) => {
      const scopes = scopesOf(candidates);
      // Serialize writers of the same contact point and scope (in a fixed order, so no deadlock).
      await tx.query(
        `SELECT count(pg_advisory_xact_lock(k)) FROM (
           SELECT DISTINCT hashtextextended(x, 3141) AS k FROM unnest($1::text[]) AS x ORDER BY 1) AS locks`,
        [
          scopes.map((scope) =>
            JSON.stringify([scope.subjectKey, scope.brand, scope.channel, scope.purpose]),
          ),
        ],
      );
      const stored = await ledgerOfScopes(tx, scopes);
      const known = new Set(
        (
          await tx.query<{ dedupe_key: string }>(
            'SELECT dedupe_key FROM consent_ledger WHERE dedupe_key = ANY($1::text[])',
            [candidates.map((entry) => entry.dedupeKey)],
          )
        ).map((row) => row.dedupe_key),
      );
      const fresh = candidates.filter((entry) => {
        if (!known.has(entry.dedupeKey)) return true;
        duplicates.push(entry.dedupeKey);
        return false;
      });

      // The fold over the stored history and the new entries decides which new grants it refuses.
      const refusedNow = new Map<ConsentEntry, string>();
      const combined: Array<ConsentEntry & { id?: number }> = [...stored, ...fresh];
      for (const group of groupByConsentScope(combined).values()) {
        for (const { entry, reason } of replayConsent(group).refused) {
          if (entry.id === undefined) refusedNow.set(entry, reason);
        }
      }
      const accepted = fresh.filter((entry) => !refusedNow.has(entry));
      for (const entry of fresh) {
        const reason = refusedNow.get(entry);
        if (reason !== undefined) refused.push({ dedupeKey: entry.dedupeKey, reason });
      }

      const inserted = await insertLedgerRows(tx, accepted);
      const idOf = new Map(inserted.map((row) => [row.dedupe_key, row.id]));
      const written: LedgerEntry[] = [];
      for (const entry of accepted) {
        const id = idOf.get(entry.dedupeKey);
        // Not returned: written by a concurrent append since we looked.
        if (id === undefined) duplicates.push(entry.dedupeKey);
        else written.push({ ...entry, id });
      }

      // The states are the fold of what the ledger now holds for each touched scope.
      const states: ConsentState[] = [];
      for (const group of groupByConsentScope<LedgerEntry>([...stored, ...written]).values()) {
        const state = replayConsent(group).state;
        if (state !== undefined) states.push(state);
      }
      await writeStates(tx, states);

      const audit: AuditInput[] = [
        ...written.map((entry) => ({
          actor: entry.provenance.actor,
          action: `consent.${entry.decision}`,
          customerId: entry.subject.customerId,
          subjectKey: entry.subject.key,
          detail: auditDetail(entry, { ledgerId: entry.id }),
        })),
        ...[...refusedNow].map(([entry, reason]) => ({
          actor: entry.provenance.actor,
          action: 'consent.refused',
          customerId: entry.subject.customerId,
          subjectKey: entry.subject.key,
          detail: auditDetail(entry, { reason }),
        })),
      ];
      await writeAuditRows(tx, audit, at);
      return { appended: written.length, duplicates, refused };
    });
  }

  /** The current consent of the given contact points in one brand (every channel and purpose): one query. */
  async state(subjectKeys: readonly string[], brand: string): Promise<ConsentState[]> {
    if (subjectKeys.length === 0) return [];
    const rows = await this.store.query<StateRow>(
      `SELECT subject_key, brand, channel, purpose, subject_type, decision, legal_basis, captured_at, ledger_id
         FROM consent_state WHERE subject_key = ANY($1::text[]) AND brand = $2
        ORDER BY subject_key, channel, purpose`,
      [[...new Set(subjectKeys)], brand],
    );
    return rows.map(toState);
  }

  /** The current consent of the given contact points in every brand: one query (a profile's consent view). */
  async stateInEveryBrand(subjectKeys: readonly string[]): Promise<ConsentState[]> {
    if (subjectKeys.length === 0) return [];
    const rows = await this.store.query<StateRow>(
      `SELECT subject_key, brand, channel, purpose, subject_type, decision, legal_basis, captured_at, ledger_id
         FROM consent_state WHERE subject_key = ANY($1::text[])
        ORDER BY brand, subject_key, channel, purpose`,
      [[...new Set(subjectKeys)]],
    );
    return rows.map(toState);
  }

  /** Ledger entries by id (e.g. those that decided current states, `ConsentState.ledgerId`): one query. */
  async entriesById(ids: readonly number[]): Promise<LedgerEntry[]> {
    if (ids.length === 0) return [];
    const rows = await this.store.query<LedgerRow>(
      `SELECT ${LEDGER_COLUMNS} FROM consent_ledger WHERE id = ANY($1::bigint[]) ORDER BY id`,
      [[...new Set(ids)]],
    );
    return rows.map(toEntry);
  }

  /** Ledger entries of a customer and/or a contact point, in the order the fold applies them. */
  async history(filter: HistoryFilter = {}): Promise<LedgerEntry[]> {
    const { where, params } = sqlFilter([
      ['customer_id =', filter.customerId],
      ['subject_key =', filter.subjectKey],
      ['received_at >=', filter.from],
      ['received_at <', filter.to],
    ]);
    const rows = await this.store.query<LedgerRow>(
      `SELECT ${LEDGER_COLUMNS} FROM consent_ledger ${where}
        ORDER BY captured_at, CASE decision WHEN 'granted' THEN 0 ELSE 1 END, dedupe_key COLLATE "C"`,
      params,
    );
    return rows.map(toEntry);
  }

  /**
   * Recomputes `consent_state` from the whole ledger by the fold, in one transaction that holds appends off.
   * Returns how many states there are.
   */
  async rebuildState(): Promise<number> {
    return this.store.transaction(async (tx) => {
      await tx.query('LOCK TABLE consent_ledger IN SHARE ROW EXCLUSIVE MODE');
      const rows = await tx.query<LedgerRow>(`SELECT ${LEDGER_COLUMNS} FROM consent_ledger`);
      const states: ConsentState[] = [];
      for (const group of groupByConsentScope(rows.map(toEntry)).values()) {
        const state = replayConsent(group).state;
        if (state !== undefined) states.push(state);
      }
      // Rows whose scope no longer folds to a state go; the rest are upserted (unchanged rows untouched).
      await tx.query(
        `DELETE FROM consent_state AS c WHERE NOT EXISTS (
           SELECT 1 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS s(subject_key, brand, channel, purpose)
            WHERE s.subject_key = c.subject_key AND s.brand = c.brand AND s.channel = c.channel
              AND s.purpose = c.purpose)`,
        [
          states.map((state) => state.subject.key),
          states.map((state) => state.scope.brand),
          states.map((state) => state.scope.channel),
          states.map((state) => state.scope.purpose),
        ],
      );
      await writeStates(tx, states);
      return states.length;
    });
  }
}

async function insertLedgerRows(
  tx: SqlExecutor,
  entries: readonly ConsentEntry[],
): Promise<Array<{ id: number; dedupe_key: string }>> {
  if (entries.length === 0) return [];
  return tx.query<{ id: number; dedupe_key: string }>(
    `INSERT INTO consent_ledger (subject_type, subject_key, customer_id, brand, channel, purpose, decision,
       legal_basis, source, notice_version, proof_ref, proof, captured_at, received_at, actor, dedupe_key)
     SELECT v.subject_type, v.subject_key, v.customer_id, v.brand, v.channel, v.purpose, v.decision,
            v.legal_basis, v.source, v.notice_version, v.proof_ref, v.proof::jsonb, v.captured_at, v.received_at,
            v.actor, v.dedupe_key
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
                   $9::text[], $10::text[], $11::text[], $12::text[], $13::timestamptz[], $14::timestamptz[],
                   $15::text[], $16::text[])
         AS v(subject_type, subject_key, customer_id, brand, channel, purpose, decision, legal_basis, source,
              notice_version, proof_ref, proof, captured_at, received_at, actor, dedupe_key)
     ON CONFLICT (dedupe_key) DO NOTHING
     RETURNING id, dedupe_key`,
    [
      entries.map((entry) => entry.subject.type),
      entries.map((entry) => entry.subject.key),
      entries.map((entry) => entry.subject.customerId ?? null),
      entries.map((entry) => entry.scope.brand),
      entries.map((entry) => entry.scope.channel),
      entries.map((entry) => entry.scope.purpose),
      entries.map((entry) => entry.decision),
      entries.map((entry) => entry.legalBasis),
      entries.map((entry) => entry.provenance.source),
      entries.map((entry) => entry.provenance.noticeVersion ?? null),
      entries.map((entry) => entry.provenance.proofRef ?? null),
      entries.map((entry) =>
        entry.provenance.proof === undefined ? null : JSON.stringify(entry.provenance.proof),
      ),
      entries.map((entry) => entry.provenance.capturedAt),
      entries.map((entry) => entry.provenance.receivedAt),
      entries.map((entry) => entry.provenance.actor),
      entries.map((entry) => entry.dedupeKey),
    ],
  );
}
