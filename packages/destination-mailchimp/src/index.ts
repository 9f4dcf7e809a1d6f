import type { DestinationPackage } from '@tessera/destination-kit';
import { MailchimpEmulator } from './emulator/mailchimp.emulator';
import { mailchimpEmulatorConfigFor } from './emulator/mailchimp-preview-config';
import { mailchimpDestination } from './mailchimp.destination';
import type { MailchimpSettings } from './mailchimp-settings';

export * from './mailchimp-endpoints';
export * from './mailchimp-settings';
export * from './mailchimp.destination';
export * from './contract/mailchimp-requests.openapi';
export * from './inbound/list-webhook';
export * from './requests/member-identity';
export * from './requests/merge-fields';
export * from './requests/planned-member';
export * from './requests/refused-merge-fields';
export * from './requests/member-write.request';
export * from './requests/member-batch.request';
export * from './requests/segment-membership.request';
export * from './requests/tag-segments';
export * from './requests/member-deletion.request';
export * from './requests/member-fetch.request';
export * from './emulator/mailchimp.emulator';
export * from './emulator/emulator-configuration';
export * from './emulator/list-webhook-body';
export * from './emulator/mailchimp-preview-config';

/** What the destination registry lists: the definition and its sandbox emulator. */
export const mailchimpPackage: DestinationPackage<MailchimpSettings> = {
  definition: mailchimpDestination,
  createEmulator: () => new MailchimpEmulator(),
  emulatorConfigFor: mailchimpEmulatorConfigFor,
};
