import { resolveEachDestination } from './stored-workspace';

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
