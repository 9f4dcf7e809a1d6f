import type { DestinationPackage } from '@tessera/destination-kit';
import { sfmcDestination, type SfmcSettings } from './sfmc.destination';
import { SfmcEmulator } from './emulator/sfmc.emulator';

export * from './api-version';
export * from './sfmc.destination';
export * from './emulator/sfmc.emulator';
export * from './requests/upsert-profiles.request';

/** What the destination registry lists: the definition and its sandbox emulator. */
export const sfmcPackage: DestinationPackage<SfmcSettings> = {
  definition: sfmcDestination,
  createEmulator: () => new SfmcEmulator(),
};
