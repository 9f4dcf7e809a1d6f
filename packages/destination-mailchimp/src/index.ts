import type { DestinationPackage } from '@tessera/destination-kit';
import { mailchimpDestination, type MailchimpSettings } from './mailchimp.destination';
import { MailchimpEmulator } from './emulator/mailchimp.emulator';

export * from './api-version';
export * from './mailchimp.destination';
export * from './emulator/mailchimp.emulator';
export * from './requests/upsert-profiles.request';

/** What the destination registry lists: the definition and its sandbox emulator. */
export const mailchimpPackage: DestinationPackage<MailchimpSettings> = {
  definition: mailchimpDestination,
  createEmulator: () => new MailchimpEmulator(),
};
