import type { PiiVault, SqlExecutor } from '@tessera/store';
import { insertRows } from '@tessera/store';
import { blockingKeys } from '../matching';
import { probeEach } from '../resolution/graph-repository';
import {
  applyTraits,
  emptyTraits,
  mergeTraits,
  partitionTraits,
  type TraitState,
  type TraitValues,
} from './profile-traits';

export const PII_TRAITS_CONTEXT = 'identity_profiles.pii_traits';
/** The blind-index kind of the probabilistic matcher's blocking keys (written here, looked up by review). */
export const BLOCKING_KEY_KIND = 'blocking-key';

interface ProfileDbRow {
  customer_id: string;
  status: 'active' | 'merged';
  merged_into: string | null;
  version: number;
  traits: TraitValues;
  trait_times: Record<string, string>;
  pii_traits: string | null;
  pii_traits_key_id: string | null;
}

export interface ProfileEntry {
  customerId: string;
  status: 'active' | 'merged';
  mergedInto: string | null;
  version: number;
  state: TraitState;
  dirty: boolean;
  piiChanged: boolean;
}

/**
 * Profiles staged in memory for one transaction: loaded in one query, changed by merges and trait updates,
 * written back in one upsert. This is what keeps a batch of records to a handful of round trips.
 */
export class ProfileBook {
  private readonly entries = new Map<string, ProfileEntry>();

  constructor(private readonly vault: PiiVault) {}

  async load(tx: SqlExecutor, customerIds: Iterable<string>): Promise<void> {
    const missing = [...new Set(customerIds)].filter((id) => !this.entries.has(id));
    if (missing.length === 0) return;
    const rows = await tx.query<ProfileDbRow>(
      probeEach(
        'text',
        `SELECT customer_id, status, merged_into, version, traits, trait_times, pii_traits, pii_traits_key_id
           FROM identity_profiles WHERE customer_id = k.key`,
      ),
      [missing],
    );
    for (const row of rows) {
      const pii =
        row.pii_traits === null
          ? {}
          : (JSON.parse(
              this.vault.decrypt(
                { ciphertext: row.pii_traits, keyId: row.pii_traits_key_id ?? '' },
                PII_TRAITS_CONTEXT,
              ),
            ) as TraitValues);
      this.entries.set(row.customer_id, {
        customerId: row.customer_id,
        status: row.status,
        mergedInto: row.merged_into,
        version: row.version,
        state: { values: { ...row.traits, ...pii }, times: row.trait_times },
        dirty: false,
        piiChanged: false,
      });
    }
    for (const id of missing) {
      if (!this.entries.has(id)) {
        this.entries.set(id, {
          customerId: id,
          status: 'active',
          mergedInto: null,
          version: 0,
          state: emptyTraits(),
          dirty: true,
          piiChanged: false,
        });
      }
    }
  }

  get(customerId: string): ProfileEntry {
    const entry = this.entries.get(customerId);
    if (entry === undefined) throw new Error(`profile ${customerId} was not loaded`);
    return entry;
  }

  activate(customerId: string): void {
    const entry = this.get(customerId);
    if (entry.status !== 'active' || entry.mergedInto !== null) {
      entry.status = 'active';
      entry.mergedInto = null;
      entry.dirty = true;
    }
  }

  /** The loser's traits join the winner's, field by field; the loser points at the winner from now on. */
  merge(loserId: string, winnerId: string): void {
    const loser = this.get(loserId);
    const winner = this.get(winnerId);
    winner.state = mergeTraits(winner.state, loser.state);
    winner.dirty = true;
    winner.piiChanged = true;
    loser.status = 'merged';
    loser.mergedInto = winnerId;
    loser.dirty = true;
  }

  applyTraits(customerId: string, values: TraitValues, eventTime: Date): void {
    if (Object.keys(values).length === 0) return;
    const entry = this.get(customerId);
    const next = applyTraits(entry.state, values, eventTime);
    if (next !== entry.state) {
      entry.state = next;
      entry.dirty = true;
      if (Object.keys(partitionTraits(values).pii).length > 0) entry.piiChanged = true;
    }
  }

  /** Writes every changed profile in one statement, and refreshes the match keys of those whose PII changed. */
  async flush(tx: SqlExecutor): Promise<void> {
    const dirty = [...this.entries.values()].filter((entry) => entry.dirty);
    if (dirty.length === 0) return;
    const rows = dirty.map((entry) => {
      const { plain, pii } = partitionTraits(entry.state.values);
      const sealed =
        Object.keys(pii).length === 0 ? null : this.vault.encrypt(JSON.stringify(pii), PII_TRAITS_CONTEXT);
      return [
        entry.customerId,
        entry.status,
        entry.mergedInto,
        JSON.stringify(plain),
        JSON.stringify(entry.state.times),
        sealed?.ciphertext ?? null,
        sealed?.keyId ?? null,
      ];
    });
    await insertRows(
      tx,
      'identity_profiles',
      ['customer_id', 'status', 'merged_into', 'traits', 'trait_times', 'pii_traits', 'pii_traits_key_id'],
      rows,
      {
        columnTypes: ['text', 'text', 'text', 'jsonb', 'jsonb', 'text', 'text'],
        onConflict: `ON CONFLICT (customer_id) DO UPDATE SET status = EXCLUDED.status,
          merged_into = EXCLUDED.merged_into, traits = EXCLUDED.traits, trait_times = EXCLUDED.trait_times,
          pii_traits = EXCLUDED.pii_traits, pii_traits_key_id = EXCLUDED.pii_traits_key_id,
          version = identity_profiles.version + 1, updated_at = now()`,
      },
    );
    const rekeyed = dirty.filter((entry) => entry.piiChanged || entry.status === 'merged');
    if (rekeyed.length > 0) {
      await tx.query('DELETE FROM identity_match_keys WHERE customer_id = ANY($1::text[])', [
        rekeyed.map((entry) => entry.customerId),
      ]);
      const keyRows = rekeyed
        .filter((entry) => entry.status === 'active')
        .flatMap((entry) =>
          blockingKeys({
            customerId: entry.customerId,
            firstName: entry.state.values.first_name as string | undefined,
            lastName: entry.state.values.last_name as string | undefined,
            postcode: (entry.state.values.address as { postcode?: string } | undefined)?.postcode,
            emails: [],
            phones: [],
          }).map((key) => [this.vault.blindIndex(BLOCKING_KEY_KIND, key), entry.customerId]),
        );
      await insertRows(tx, 'identity_match_keys', ['blocking_key', 'customer_id'], keyRows, {
        onConflict: 'ON CONFLICT DO NOTHING',
        columnTypes: ['text', 'text'],
      });
    }
    for (const entry of dirty) {
      entry.dirty = false;
      entry.piiChanged = false;
    }
  }
}
