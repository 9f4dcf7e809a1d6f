import type { BatchResult, DestinationHttpClient, ProfileRef } from '@tessera/destination-kit';
import { BRAZE_ENDPOINTS } from '../braze-endpoints';

/** POST /users/delete by external id (≤ 50 per request). Braze queues the deletions and answers `{ deleted }`. */
export interface UsersDeleteBody {
  external_ids: string[];
}

export function buildUsersDeleteBody(items: ProfileRef[]): UsersDeleteBody {
  return { external_ids: items.map((item) => item.customerId) };
}

export async function deleteUsers(http: DestinationHttpClient, items: ProfileRef[]): Promise<BatchResult> {
  await http.post(BRAZE_ENDPOINTS.usersDelete.path, buildUsersDeleteBody(items));
  return items.map(() => ({ status: 'ok' }));
}
