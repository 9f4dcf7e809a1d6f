import type { DestinationPackage } from '@tessera/destination-kit';
import { brazeDestination, type BrazeSettings } from './braze.destination';
import { BrazeEmulator } from './emulator/braze.emulator';

export * from './braze-endpoints';
export * from './braze.destination';
export * from './emulator/braze.emulator';
export * from './inbound/unsubscribe-poll';
export * from './requests/email-suppression.request';
export * from './requests/subscription.request';
export * from './requests/user-merge.request';
export * from './requests/users-export.request';
export * from './requests/users-delete.request';
export * from './requests/users-track.request';

/** What the destination registry lists: the definition and its sandbox emulator. */
export const brazePackage: DestinationPackage<BrazeSettings> = {
  definition: brazeDestination,
  createEmulator: () => new BrazeEmulator(),
};
