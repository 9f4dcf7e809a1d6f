import type { DestinationPackage } from '@tessera/destination-kit';
import { KlaviyoEmulator } from './emulator';
import { klaviyoDestination } from './klaviyo.destination';
import type { KlaviyoSettings } from './klaviyo-settings';

export { KLAVIYO_BASE_URL, KLAVIYO_PUBLISHED_REVISIONS, KLAVIYO_REVISION } from './api-revision';
export { KLAVIYO_ENDPOINTS, KLAVIYO_LIMITS, KLAVIYO_RATE_BUDGETS } from './klaviyo-endpoints';
export { klaviyoDestination } from './klaviyo.destination';
export type { KlaviyoSettings } from './klaviyo-settings';
export { klaviyoSignature } from './inbound/unsubscribe-webhook';
export * from './emulator';

/** Registration entry: the definition and its sandbox emulator. */
export const klaviyoPackage: DestinationPackage<KlaviyoSettings> = {
  definition: klaviyoDestination,
  createEmulator: () => new KlaviyoEmulator(),
};
