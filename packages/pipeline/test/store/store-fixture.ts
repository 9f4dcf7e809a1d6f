import { randomBytes } from 'node:crypto';
import type { CatalogEvent } from '@tessera/events';
import type { IngestedEvent } from '@tessera/queues';
import { PiiVault, type Store } from '@tessera/store';

export const vault = new PiiVault([randomBytes(32)]);

export const BASE_TIME = Date.UTC(2026, 0, 1);

/** `minutes` after 2026-01-01T00:00:00Z. */
export function at(minutes: number): Date {
  return new Date(BASE_TIME + minutes * 60_000);
}

export interface EventSpec {
  id: string;
  /** Minutes after the base time. */
  received?: number;
  sourceId?: string;
  source?: string;
  brand?: string;
  email?: string;
}

export function ingested(spec: EventSpec): IngestedEvent {
  const event = {
    specversion: '1.0',
    id: spec.id,
    source: spec.source ?? 'https://shop.example/orders',
    type: 'profile.updated',
    time: at((spec.received ?? 0) - 1).toISOString(),
    data: { email: spec.email ?? `${spec.id}@example.com`, phone: '+33612345678' },
  } as unknown as CatalogEvent;
  return {
    sourceId: spec.sourceId ?? 'src-web',
    brand: spec.brand ?? 'sd',
    receivedAt: at(spec.received ?? 0).toISOString(),
    event,
  };
}

/** Every row of a table as text, all columns included: what someone reading the database would see. */
export async function tableText(store: Store, table: string): Promise<string> {
  const rows = await store.query<{ t: string }>(`SELECT t::text AS t FROM ${table} AS t`);
  return rows.map((row) => row.t).join('\n');
}
