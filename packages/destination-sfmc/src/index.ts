import type { DestinationPackage } from '@tessera/destination-kit';
import { sfmcDestination } from './sfmc.destination';
import type { SfmcSettings } from './sfmc-settings';
import { SfmcEmulator } from './emulator/sfmc.emulator';
import { sfmcEmulatorConfigFor } from './emulator/sfmc-preview-config';

export * from './sfmc-endpoints';
export * from './sfmc-settings';
export * from './sfmc.destination';
export * from './auth/access-token.request';
export * from './requests/data-extension-row';
export * from './requests/data-extension-rows.request';
export * from './requests/rowset-upsert.request';
export * from './requests/async-rows.request';
export * from './requests/row-refusals';
export * from './requests/contact-deletion.request';
export * from './requests/row-query.request';
export * from './requests/subscriber-status.request';
export * from './inbound/ens-notification';
export * from './contract/sfmc-rest.openapi';
export * from './contract/soap-envelope.validator';
export * from './emulator/sfmc.emulator';
export * from './emulator/sfmc-emulator-config';
export * from './emulator/sfmc-preview-config';

/** What the destination registry lists: the definition and its sandbox emulator. */
export const sfmcPackage: DestinationPackage<SfmcSettings> = {
  definition: sfmcDestination,
  createEmulator: () => new SfmcEmulator(),
  emulatorConfigFor: sfmcEmulatorConfigFor,
};
