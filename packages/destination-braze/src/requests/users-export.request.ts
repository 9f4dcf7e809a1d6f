import type { BatchResult, DestinationHttpClient, ProfileRef, RemoteProfile } from '@tessera/destination-kit';
import { BRAZE_ENDPOINTS } from '../braze-endpoints';

/*
 * fetchProfiles: POST /users/export/ids, up to 50 external ids per request, asking only for the fields
 * reconciliation compares. Braze lists ids it does not know in `invalid_user_ids`: those items are ok without a
 * profile (nothing to reconcile against yet).
 */

/** The standard fields read back; `custom_attributes` holds everything else Tessera sent. */
export const EXPORTED_FIELDS = [
  'external_id',
  'braze_id',
  'email',
  'phone',
  'first_name',
  'last_name',
  'email_subscribe',
  'custom_attributes',
] as const;

export interface UsersExportIdsBody {
  external_ids: string[];
  fields_to_export: string[];
}

/** One exported user, as much of it as the fields asked for. */
export interface BrazeExportedUser {
  external_id?: string;
  braze_id?: string;
  email?: string;
  phone?: string;
  first_name?: string;
  last_name?: string;
  email_subscribe?: 'opted_in' | 'subscribed' | 'unsubscribed';
  custom_attributes?: Record<string, unknown>;
}

export interface UsersExportIdsResponse {
  message?: string;
  users?: BrazeExportedUser[];
  invalid_user_ids?: string[];
}

export function buildUsersExportIdsBody(items: ProfileRef[]): UsersExportIdsBody {
  return {
    external_ids: [...new Set(items.map((item) => item.customerId))],
    fields_to_export: [...EXPORTED_FIELDS],
  };
}

export function toRemoteProfile(user: BrazeExportedUser): RemoteProfile {
  const attributes: Record<string, unknown> = { ...user.custom_attributes };
  if (user.first_name !== undefined) attributes['first_name'] = user.first_name;
  if (user.last_name !== undefined) attributes['last_name'] = user.last_name;
  const email = user.email_subscribe;
  return {
    externalId: user.braze_id ?? user.external_id ?? '',
    ...(user.external_id === undefined ? {} : { customerId: user.external_id }),
    ...(user.email === undefined ? {} : { email: user.email }),
    ...(user.phone === undefined ? {} : { phone: user.phone }),
    attributes,
    // Braze's global email state: opted_in (explicit) and subscribed (default) both let marketing through.
    ...(email === undefined
      ? {}
      : { subscriptions: { email: email === 'unsubscribed' ? 'unsubscribed' : 'subscribed' } }),
  };
}

export async function exportUsers(http: DestinationHttpClient, items: ProfileRef[]): Promise<BatchResult> {
  const response = await http.post<UsersExportIdsResponse>(
    BRAZE_ENDPOINTS.usersExportIds.path,
    buildUsersExportIdsBody(items),
  );
  const found = new Map<string, BrazeExportedUser>();
  for (const user of response.body?.users ?? []) {
    if (user.external_id !== undefined) found.set(user.external_id, user);
  }
  return items.map((item) => {
    const user = found.get(item.customerId);
    if (user === undefined) return { status: 'ok' };
    const profile = toRemoteProfile(user);
    return { status: 'ok', externalId: profile.externalId, profile };
  });
}
