import type { BatchResult, OperationContext, ProfileMerge, ProfileRef } from '@tessera/destination-kit';
import { SFMC_ENDPOINTS } from '../sfmc-endpoints';
import type { SfmcSettings } from '../sfmc-settings';

/** Body of `POST /contacts/v1/contacts/actions/delete?type=keys`. */
export interface ContactDeleteBody {
  values: string[];
  DeleteOperationType: 'ContactAndAttributes';
}

export interface ContactDeleteResponse {
  operationID?: number;
  operationInitiated?: boolean;
  hasErrors?: boolean;
  resultMessages?: { resultCode?: string; message?: string }[];
}

export function buildContactDeleteBody(items: ProfileRef[]): ContactDeleteBody {
  return {
    values: [...new Set(items.map((item) => item.customerId))],
    DeleteOperationType: 'ContactAndAttributes',
  };
}

/**
 * Erases profiles for a data subject request by contact key (= customer id = subscriber key). SFMC deletes the
 * contact, its subscriber record and its rows in sendable data extensions related on the contact key — the
 * Tessera data extension among them when it is set up as README describes — after the account's suppression
 * period. The request only starts that operation, so `ok` means "initiated", the most SFMC confirms.
 */
export async function deleteContacts(
  items: ProfileRef[],
  { http }: OperationContext<SfmcSettings>,
): Promise<BatchResult> {
  const response = await http.post<ContactDeleteResponse>(
    SFMC_ENDPOINTS.contactsDelete.path,
    buildContactDeleteBody(items),
    {
      query: { type: 'keys' },
    },
  );
  const body = response.body;
  if (body?.operationInitiated !== true || body.hasErrors === true) {
    const message = body?.resultMessages?.[0]?.message ?? 'SFMC did not initiate the contact deletion';
    return items.map(() => ({ status: 'rejected', reason: `SFMC: ${message}` }));
  }
  const externalId = body.operationID === undefined ? undefined : String(body.operationID);
  return items.map(() => (externalId === undefined ? { status: 'ok' } : { status: 'ok', externalId }));
}

/**
 * mergeProfiles. Marketing Cloud Engagement has no contact merge in its API, so the retired contact is removed:
 * its contact key (its customer id) goes to the same contact deletion by key
 * (https://developer.salesforce.com/docs/marketing/marketing-cloud/guide/DeleteByContactKeys.html), which
 * suppresses it at once and deletes it, with its data extension rows, after the account's suppression period.
 * The survivor keeps its own contact, written by its profile updates. The operation id is not the contact's id,
 * so the results carry none (the retired contact's sync state is dropped by the pipeline).
 */
export async function removeRetiredContacts(
  merges: ProfileMerge[],
  context: OperationContext<SfmcSettings>,
): Promise<BatchResult> {
  const results = await deleteContacts(
    merges.map((merge) => ({ customerId: merge.mergedCustomerId })),
    context,
  );
  return results.map((result) => (result.status === 'ok' ? { status: 'ok' } : result));
}
