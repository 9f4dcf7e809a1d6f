import type { BatchResult, OperationContext, ProfileRef } from '@tessera/destination-kit';
import { KLAVIYO_ENDPOINTS } from '../klaviyo-endpoints';
import type { KlaviyoSettings } from '../klaviyo-settings';

/**
 * Erases a profile for a data subject request: one data privacy deletion job per profile, identified by
 * email (Klaviyo deletes every profile holding it), else phone number, else Klaviyo's id when a previous
 * write returned it.
 */
export async function deleteProfiles(
  items: ProfileRef[],
  { http }: OperationContext<KlaviyoSettings>,
): Promise<BatchResult> {
  const results: BatchResult = [];
  for (const item of items) {
    const profile =
      item.email !== undefined
        ? { type: 'profile', attributes: { email: item.email } }
        : item.phone !== undefined
          ? { type: 'profile', attributes: { phone_number: item.phone } }
          : item.externalId !== undefined
            ? { type: 'profile', id: item.externalId, attributes: {} }
            : undefined;
    if (profile === undefined) {
      results.push({
        status: 'rejected',
        reason: 'Klaviyo deletes by email, phone number or its own id and the profile has none of them',
      });
      continue;
    }
    await http.post(KLAVIYO_ENDPOINTS.deletion.path, {
      data: {
        type: 'data-privacy-deletion-job',
        attributes: { profile: { data: profile } },
      },
    });
    results.push({ status: 'ok' });
  }
  return results;
}
