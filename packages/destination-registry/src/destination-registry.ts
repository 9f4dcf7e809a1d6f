import type { DestinationPackage } from '@tessera/destination-kit';
import { brazePackage } from '@tessera/destination-braze';
import { klaviyoPackage } from '@tessera/destination-klaviyo';
import { mailchimpPackage } from '@tessera/destination-mailchimp';
import { sfmcPackage } from '@tessera/destination-sfmc';
import { ConfigurationError } from '@tessera/runtime';

/** Every destination package of this build. Adding an ESP: its package, and one line here. */
export const DESTINATION_PACKAGES: readonly DestinationPackage[] = [
  klaviyoPackage as unknown as DestinationPackage,
  brazePackage as unknown as DestinationPackage,
  mailchimpPackage as unknown as DestinationPackage,
  sfmcPackage as unknown as DestinationPackage,
];

/** The packages TESSERA_DESTINATIONS selects (`'all'` or a list of types), in registration order. */
export function selectDestinationPackages(
  selection: 'all' | readonly string[],
  packages: readonly DestinationPackage[] = DESTINATION_PACKAGES,
): DestinationPackage[] {
  if (selection === 'all') return [...packages];
  const known = packages.map((entry) => entry.definition.type);
  const unknown = selection.filter((type) => !known.includes(type));
  if (unknown.length > 0) {
    throw new ConfigurationError(
      'TESSERA_DESTINATIONS',
      `unknown destination ${unknown.map((type) => `"${type}"`).join(', ')}; this build has: ${known.join(', ')}`,
    );
  }
  return packages.filter((entry) => selection.includes(entry.definition.type));
}
