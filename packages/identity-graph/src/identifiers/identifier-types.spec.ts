import { DEFAULT_IDENTITY_CONFIG, IDENTIFIER_TYPES, identifierLabel } from './identifier-types';

describe('DEFAULT_IDENTITY_CONFIG', () => {
  it('lists the identifier types strongest first, in the order of their default priorities', () => {
    expect(IDENTIFIER_TYPES).toEqual([
      'customer_id',
      'member',
      'loyalty_card',
      'email',
      'phone',
      'device_id',
      'anonymous_id',
    ]);
    const priorities = IDENTIFIER_TYPES.map((type) => DEFAULT_IDENTITY_CONFIG.types[type].priority);
    expect(priorities).toEqual([10, 20, 30, 40, 50, 60, 70]);
  });

  it.each([
    // type, anchor, pii, maxPerProfile, maxPerProfileWindowDays, maxProfilesPerValue
    ['customer_id', true, false, 1, undefined, 1],
    ['member', true, false, 1, undefined, 1],
    ['loyalty_card', true, false, 3, undefined, 1],
    ['email', false, true, 5, undefined, 3],
    ['phone', false, true, 5, undefined, 3],
    ['device_id', false, false, 20, 90, 5],
    ['anonymous_id', false, false, 50, 30, 5],
  ] as const)(
    '%s: anchor %s, pii %s, %i per profile (window %s days), %i profiles per value',
    (type, anchor, pii, maxPerProfile, maxPerProfileWindowDays, maxProfilesPerValue) => {
      expect(DEFAULT_IDENTITY_CONFIG.types[type]).toEqual({
        type,
        anchor,
        pii,
        priority: DEFAULT_IDENTITY_CONFIG.types[type].priority,
        maxPerProfile,
        ...(maxPerProfileWindowDays === undefined ? {} : { maxPerProfileWindowDays }),
        maxProfilesPerValue,
        blocklist: [],
      });
    },
  );

  it('caps a profile at 100 identifiers', () => {
    expect(DEFAULT_IDENTITY_CONFIG.maxComponentSize).toBe(100);
  });

  it('cannot be changed by a caller', () => {
    expect(() => {
      DEFAULT_IDENTITY_CONFIG.types.email.maxPerProfile = 99;
    }).toThrow(TypeError);
    expect(() => DEFAULT_IDENTITY_CONFIG.types.email.blocklist.push('x@example.com')).toThrow(TypeError);
    expect(DEFAULT_IDENTITY_CONFIG.types.email.maxPerProfile).toBe(5);
  });
});

describe('identifierLabel', () => {
  it('names a member identifier by its brand and any other by its type', () => {
    expect(identifierLabel({ type: 'member', scope: 'sports-direct' })).toBe('member.sports-direct');
    expect(identifierLabel({ type: 'email', scope: '' })).toBe('email');
    expect(identifierLabel({ type: 'customer_id', scope: '' })).toBe('customer_id');
  });
});
