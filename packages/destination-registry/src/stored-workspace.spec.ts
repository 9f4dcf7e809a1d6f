import { AllowedDestinationHosts } from '@tessera/destination-kit';
import { ConfigurationError } from '@tessera/runtime';
import { resolveEachDestination } from './stored-workspace';
import { deploymentDestinations } from './workspace-destinations';

describe('resolveEachDestination', () => {
  const brands = [{ id: 'sd', name: 'Sports Direct', defaultCountry: 'GB' }];
  const klaviyo = (id: string, extra: Record<string, unknown> = {}) => ({
    id,
    brand: 'sd',
    type: 'klaviyo',
    settings: { apiKey: 'pk_test' },
    ...extra,
  });

  it('resolves each destination on its own: a bad one is reported by id, the others resolve', () => {
    const { resolved, unresolved } = resolveEachDestination(
      {
        brands,
        sources: [],
        destinations: [
          klaviyo('sd-good', { mappings: { mappings: { points: 'profile.?points_balance.orValue(0)' } } }),
          klaviyo('sd-bad-rules', { mappings: { mappings: { x: '1 +' } } }),
          klaviyo('sd-bad-settings', { settings: {} }),
          klaviyo('sd-bad-plugin', { plugins: [{ name: 'no-such-plugin' }] }),
          klaviyo('sd-unknown-brand', { brand: 'xx' }),
        ],
      },
      'all',
    );
    expect(resolved.map((destination) => destination.id)).toEqual(['sd-good']);
    expect(resolved[0]?.rules).toBeDefined();
    expect(resolved[0]?.plugins).toEqual([]);
    expect(unresolved.map((entry) => entry.id)).toEqual([
      'sd-bad-rules',
      'sd-bad-settings',
      'sd-bad-plugin',
      'sd-unknown-brand',
    ]);
    expect(unresolved[0]?.reason).toMatch(/Destination "sd-bad-rules": invalid mappings: mappings\.x/);
    expect(unresolved[1]?.reason).toMatch(/Destination "sd-bad-settings": invalid settings/);
  });

  it('refuses a host the ESP does not have at start-up, naming the destination and setting, unless allowed', () => {
    const workspace = {
      brands,
      sources: [],
      destinations: [
        klaviyo('sd-klaviyo', { settings: { apiKey: 'pk_test', baseUrl: 'http://169.254.169.254/latest' } }),
        {
          id: 'sd-sfmc',
          brand: 'sd',
          type: 'sfmc',
          settings: {
            subdomain: 'mc123',
            clientId: 'c',
            clientSecret: 's',
            dataExtensionKey: 'k',
            authBaseUrl: 'http://127.0.0.1:9999',
          },
        },
      ],
    };
    const refusal = (run: () => unknown): ConfigurationError => {
      try {
        run();
      } catch (error) {
        if (error instanceof ConfigurationError) return error;
        throw error;
      }
      throw new Error('expected a ConfigurationError');
    };
    expect(refusal(() => deploymentDestinations(workspace, 'all')).message).toBe(
      'TESSERA_WORKSPACE_FILE: Destination "sd-klaviyo": invalid settings: /baseUrl 169.254.169.254 is a link-local address, not one of Klaviyo\'s hosts (a.klaviyo.com); TESSERA_ALLOWED_DESTINATION_HOSTS can allow it',
    );
    // A reload reports it and keeps going; SFMC's token host is checked like its REST host.
    const { unresolved } = resolveEachDestination(workspace, 'all');
    expect(unresolved.map((entry) => entry.reason)[1]).toBe(
      'TESSERA_WORKSPACE_FILE: Destination "sd-sfmc": invalid settings: /authBaseUrl 127.0.0.1 is a loopback address, not one of Salesforce Marketing Cloud\'s hosts (*.rest.marketingcloudapis.com, *.auth.marketingcloudapis.com, *.soap.marketingcloudapis.com); TESSERA_ALLOWED_DESTINATION_HOSTS can allow it',
    );
    const allowed = new AllowedDestinationHosts(['http://169.254.169.254/latest', '127.0.0.1:9999']);
    expect(deploymentDestinations(workspace, 'all', allowed).map((destination) => destination.id)).toEqual([
      'sd-klaviyo',
      'sd-sfmc',
    ]);
    expect(resolveEachDestination(workspace, 'all', undefined, allowed).unresolved).toEqual([]);
  });

  it("validates each destination's withoutGrant at load: minimal, none or full; anything else refuses the workspace", () => {
    const workspace = (withoutGrant: unknown) => ({
      brands,
      sources: [],
      destinations: [klaviyo('sd-klaviyo', { settings: { apiKey: 'pk_test', withoutGrant } })],
    });
    expect(() => deploymentDestinations(workspace('nobody'), 'all')).toThrow(
      'TESSERA_WORKSPACE_FILE: Destination "sd-klaviyo": invalid settings: /withoutGrant must be equal to one of the allowed values',
    );
    for (const policy of ['minimal', 'none', 'full']) {
      expect(deploymentDestinations(workspace(policy), 'all')[0]?.settings['withoutGrant']).toBe(policy);
    }
  });

  it('leaves out the types this deployment does not run, without reporting them', () => {
    const { resolved, unresolved } = resolveEachDestination(
      {
        brands,
        sources: [],
        destinations: [
          klaviyo('sd-klaviyo'),
          { id: 'sd-braze', brand: 'sd', type: 'braze', settings: { apiKey: 'k' } },
        ],
      },
      ['klaviyo'],
    );
    expect(resolved.map((destination) => destination.id)).toEqual(['sd-klaviyo']);
    expect(unresolved).toEqual([]);
  });
});
