import type { BatchResult, OperationContext, ProfileRef } from '@tessera/destination-kit';
import { KLAVIYO_ENDPOINTS } from '../klaviyo-endpoints';
import type { KlaviyoSettings } from '../klaviyo-settings';

/**
 * Erases a profile for a data subject request: one data privacy deletion job per profile, identified by
 * email, else phone number, else the Klaviyo id found by customer id.
 */
export async function deleteProfiles(
  items: ProfileRef[],
  { http }: OperationContext<KlaviyoSettings>,
): Promise<BatchResult> {
  const results: BatchResult = [];
  for (const item of items) {
    const attributes =
      item.email !== undefined
        ? { email: item.email }
        : item.phone !== undefined
          ? { phone_number: item.phone }
          : undefined;
    if (attributes === undefined) {
      results.push({
        status: 'rejected',
        reason: 'Klaviyo deletes by email or phone number and the profile has neither',
      });
      continue;
    }
    await http.post(KLAVIYO_ENDPOINTS.deletion.path, {
      data: {
        type: 'data-privacy-deletion-job',
        attributes: { profile: { data: { type: 'profile', attributes } } },
      },
    });
    results.push({ status: 'ok' });
  }
  return results;
}
