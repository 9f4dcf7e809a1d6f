import { ConfigurationError } from '@tessera/runtime';
import { DESTINATION_PACKAGES, selectDestinationPackages } from './destination-registry';

describe('destination registry', () => {
  it('registers each ESP once, by a unique type and emulator mount', () => {
    const types = DESTINATION_PACKAGES.map((entry) => entry.definition.type);
    expect(types).toContain('klaviyo');
    expect(new Set(types).size).toBe(types.length);
    const mounts = DESTINATION_PACKAGES.map((entry) => entry.createEmulator().esp);
    expect(mounts).toEqual(types);
  });

  it('selects all by default and a named subset on request', () => {
    expect(selectDestinationPackages('all')).toEqual([...DESTINATION_PACKAGES]);
    expect(selectDestinationPackages(['klaviyo']).map((entry) => entry.definition.type)).toEqual(['klaviyo']);
  });

  it('stops start-up naming TESSERA_DESTINATIONS and the known types for an unknown destination', () => {
    const select = () => selectDestinationPackages(['klaviyo', 'hubspot', 'pigeon']);
    expect(select).toThrow(ConfigurationError);
    expect(select).toThrow(
      'TESSERA_DESTINATIONS: unknown destination "hubspot", "pigeon"; this build has: klaviyo, braze, mailchimp, sfmc',
    );
  });
});
