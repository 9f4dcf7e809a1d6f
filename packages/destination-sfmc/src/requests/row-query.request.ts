import type {
  BatchResult,
  ItemResult,
  OperationContext,
  ProfileRef,
  RemoteProfile,
} from '@tessera/destination-kit';
import { endpointPath, SFMC_ENDPOINTS } from '../sfmc-endpoints';
import type { SfmcSettings } from '../sfmc-settings';
import { PRIMARY_KEY_COLUMN } from './data-extension-row';

/** A page of `GET /data/v1/customobjectdata/key/{key}/rowset` (SFMC lower-cases column names in it). */
export interface RowQueryResponse {
  count?: number;
  items?: { keys?: Record<string, unknown>; values?: Record<string, unknown> }[];
}

/** The `$filter` selecting one customer's row; quotes in the id are doubled, as OData escapes them. */
export function rowFilter(customerId: string): string {
  return `${PRIMARY_KEY_COLUMN} eq '${customerId.replace(/'/g, "''")}'`;
}

/** A row as a RemoteProfile: TesseraId is the external id, EmailAddress and Phone the contact points. */
export function remoteProfileOf(
  row: NonNullable<RowQueryResponse['items']>[number],
): RemoteProfile | undefined {
  const keys = lowerCased(row.keys ?? {});
  const values = lowerCased(row.values ?? {});
  const id = keys[PRIMARY_KEY_COLUMN.toLowerCase()] ?? values[PRIMARY_KEY_COLUMN.toLowerCase()];
  if (typeof id !== 'string' || id === '') return undefined;
  const attributes: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(values)) {
    if (!['emailaddress', 'phone', PRIMARY_KEY_COLUMN.toLowerCase()].includes(name)) attributes[name] = value;
  }
  const email = values['emailaddress'];
  const phone = values['phone'];
  return {
    externalId: id,
    customerId: id,
    ...(typeof email === 'string' && email !== '' ? { email } : {}),
    ...(typeof phone === 'string' && phone !== '' ? { phone } : {}),
    attributes,
  };
}

/**
 * Reads each customer's data extension row back (one filtered request per customer: the rowset filter takes
 * one comparison). Subscriber status lives in All Subscribers, not in the row, so `subscriptions` is left out.
 */
export async function fetchRows(
  items: ProfileRef[],
  { http, settings }: OperationContext<SfmcSettings>,
): Promise<BatchResult> {
  const results: BatchResult = [];
  for (const item of items) {
    const response = await http.get<RowQueryResponse>(
      endpointPath(SFMC_ENDPOINTS.rowQuery.path, { key: settings.dataExtensionKey }),
      { query: { $filter: rowFilter(item.customerId) } },
    );
    const profile = (response.body?.items ?? [])
      .map(remoteProfileOf)
      .find((found) => found?.customerId === item.customerId);
    const result: ItemResult =
      profile === undefined ? { status: 'ok' } : { status: 'ok', externalId: profile.externalId, profile };
    results.push(result);
  }
  return results;
}

function lowerCased(record: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(record).map(([name, value]) => [name.toLowerCase(), value]));
}
