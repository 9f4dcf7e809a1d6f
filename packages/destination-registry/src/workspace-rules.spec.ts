import { ConfigurationError } from '@tessera/runtime';
import { compileWorkspaceRules } from './workspace-rules';

describe('compileWorkspaceRules', () => {
  it('compiles each destination rule set, and skips destinations without one', () => {
    const compiled = compileWorkspaceRules([
      { id: 'sd-klaviyo', mappings: { mappings: { tier: 'profile.?loyalty_tier.orValue("Member")' } } },
      { id: 'sd-braze' },
    ]);
    expect([...compiled.keys()]).toEqual(['sd-klaviyo']);
    const result = compiled.get('sd-klaviyo')?.evaluate({
      event: {
        specversion: '1.0',
        id: 'e1',
        source: 's',
        type: 'profile.updated',
        data: { customer_id: 'C1' },
      },
      profile: { customer_id: 'C1', version: 1, loyalty_tier: 'Gold' },
      brand: { id: 'sd', name: 'Sports Direct', defaultCountry: 'GB' },
      destination: { id: 'sd-klaviyo', type: 'klaviyo' },
      now: '2026-11-23T00:00:00Z',
    });
    expect(result?.operations[0]).toMatchObject({
      operation: 'upsertProfiles',
      item: { attributes: { tier: 'Gold' } },
    });
  });

  it('stops start-up naming the destination and every broken expression with its position', () => {
    const broken = () =>
      compileWorkspaceRules([
        {
          id: 'sd-klaviyo',
          mappings: { conditions: ['profile.loyalty_teir == "Gold"'], mappings: { x: '1 +' } },
        },
      ]);
    expect(broken).toThrow(ConfigurationError);
    expect(broken).toThrow(
      /^TESSERA_WORKSPACE_FILE: Destination "sd-klaviyo": invalid mappings: conditions\[0\] \(1:\d+\): .*loyalty_teir.*; mappings\.x \(1:\d+\): /,
    );
    expect(() => compileWorkspaceRules([{ id: 'sd-klaviyo', mappings: ['tier'] }])).toThrow(
      'TESSERA_WORKSPACE_FILE: Destination "sd-klaviyo": mappings must be an object {"conditions": […], "mappings": {…}, "segments": […]}',
    );
  });
});
