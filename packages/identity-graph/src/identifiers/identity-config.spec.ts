import { DEFAULT_IDENTITY_CONFIG } from './identifier-types';
import { IdentityConfigError, identityConfig, type IdentityConfigOverrides } from './identity-config';

/** The error `identityConfig` throws for overrides that may not even match the declared type. */
function configError(overrides: unknown): IdentityConfigError {
  try {
    identityConfig(overrides as IdentityConfigOverrides);
  } catch (error) {
    if (error instanceof IdentityConfigError) return error;
    throw error;
  }
  throw new Error('expected an IdentityConfigError');
}

describe('identityConfig', () => {
  it('returns a mutable copy of the defaults when nothing is overridden', () => {
    const config = identityConfig();
    expect(config).toEqual(DEFAULT_IDENTITY_CONFIG);
    config.types.email.blocklist.push('x@example.com');
    config.maxComponentSize = 7;
    expect(DEFAULT_IDENTITY_CONFIG.types.email.blocklist).toEqual([]);
    expect(identityConfig().maxComponentSize).toBe(100);
  });

  it('merges overrides setting by setting and keeps the rest of each type', () => {
    const config = identityConfig({
      types: {
        email: { maxPerProfile: 10 },
        device_id: { maxPerProfileWindowDays: 30, maxProfilesPerValue: 2 },
      },
      maxComponentSize: 500,
    });
    expect(config.types.email).toEqual({ ...DEFAULT_IDENTITY_CONFIG.types.email, maxPerProfile: 10 });
    expect(config.types.device_id).toEqual({
      ...DEFAULT_IDENTITY_CONFIG.types.device_id,
      maxPerProfileWindowDays: 30,
      maxProfilesPerValue: 2,
    });
    expect(config.types.phone).toEqual(DEFAULT_IDENTITY_CONFIG.types.phone);
    expect(config.maxComponentSize).toBe(500);
  });

  it('sets a window on a type that has none, and treats an undefined setting as left out', () => {
    const config = identityConfig({
      types: {
        email: { maxPerProfileWindowDays: 365 },
        anonymous_id: { maxPerProfileWindowDays: undefined },
      },
      maxComponentSize: undefined,
    });
    expect(config.types.email.maxPerProfileWindowDays).toBe(365);
    expect(config.types.anonymous_id.maxPerProfileWindowDays).toBe(30);
    expect(config.maxComponentSize).toBe(100);
  });

  it('accepts reordered priorities as long as they stay unique', () => {
    const config = identityConfig({ types: { email: { priority: 50 }, phone: { priority: 40 } } });
    expect(config.types.email.priority).toBe(50);
    expect(config.types.phone.priority).toBe(40);
  });

  it('stores blocklist entries normalized, as incoming values are compared after normalization', () => {
    const config = identityConfig({
      types: {
        email: { blocklist: [' Walk-In@Store.Example '] },
        phone: { blocklist: ['+44 7911 123456', '0044 20 7946 0018'] },
        loyalty_card: { blocklist: ['6330-0000 1111'] },
        customer_id: { blocklist: ['  WALKIN  '] },
      },
    });
    expect(config.types.email.blocklist).toEqual(['walk-in@store.example']);
    expect(config.types.phone.blocklist).toEqual(['+447911123456', '+442079460018']);
    expect(config.types.loyalty_card.blocklist).toEqual(['633000001111']);
    expect(config.types.customer_id.blocklist).toEqual(['WALKIN']);
  });

  it.each<[string, unknown, string]>([
    [
      'a zero limit',
      { types: { email: { maxPerProfile: 0 } } },
      'identity.types.email.maxPerProfile: must be an integer ≥ 1',
    ],
    [
      'a fractional limit',
      { types: { phone: { maxProfilesPerValue: 2.5 } } },
      'identity.types.phone.maxProfilesPerValue: must be an integer ≥ 1',
    ],
    [
      'a negative window',
      { types: { device_id: { maxPerProfileWindowDays: -1 } } },
      'identity.types.device_id.maxPerProfileWindowDays: must be an integer ≥ 1',
    ],
    [
      'a numeric string',
      { types: { loyalty_card: { priority: '30' } } },
      'identity.types.loyalty_card.priority: must be an integer ≥ 1',
    ],
    ['a zero component size', { maxComponentSize: 0 }, 'identity.maxComponentSize: must be an integer ≥ 1'],
    [
      'a non-finite component size',
      { maxComponentSize: Number.POSITIVE_INFINITY },
      'identity.maxComponentSize: must be an integer ≥ 1',
    ],
    [
      'a priority taken by a later type',
      { types: { email: { priority: 50 } } },
      'identity.types.email.priority: must be unique, phone already has priority 50',
    ],
    [
      'a priority taken by an earlier type',
      { types: { phone: { priority: 40 } } },
      'identity.types.phone.priority: must be unique, email already has priority 40',
    ],
    [
      'two overridden types with one priority',
      { types: { member: { priority: 5 }, anonymous_id: { priority: 5 } } },
      'identity.types.anonymous_id.priority: must be unique, member already has priority 5',
    ],
    [
      'a several-profile limit on an anchor',
      { types: { customer_id: { maxProfilesPerValue: 2 } } },
      'identity.types.customer_id.maxProfilesPerValue: must be 1: an anchor value belongs to exactly one profile',
    ],
    [
      'an unknown identifier type',
      { types: { sms: { maxPerProfile: 1 } } },
      'identity.types.sms: unknown identifier type (expected one of customer_id, member, loyalty_card, email, phone, device_id, anonymous_id)',
    ],
    [
      'an unknown type setting',
      { types: { email: { maxPerDay: 3 } } },
      'identity.types.email.maxPerDay: unknown setting (expected one of priority, maxPerProfile, maxPerProfileWindowDays, maxProfilesPerValue, blocklist)',
    ],
    [
      'a fixed property of the type',
      { types: { email: { pii: false } } },
      'identity.types.email.pii: is fixed by the identifier type and cannot be overridden',
    ],
    [
      'an anchor flag',
      { types: { device_id: { anchor: true } } },
      'identity.types.device_id.anchor: is fixed by the identifier type and cannot be overridden',
    ],
    [
      'an unknown top-level setting',
      { maxComponent: 10 },
      'identity.maxComponent: unknown setting (expected types or maxComponentSize)',
    ],
    ['types given as a list', { types: [] }, 'identity.types: must be an object keyed by identifier type'],
    ['a type given as a number', { types: { email: 5 } }, 'identity.types.email: must be an object'],
    ['overrides that are not an object', null, 'identity: must be an object'],
    [
      'a blocklist that is not a list',
      { types: { email: { blocklist: 'x@example.com' } } },
      'identity.types.email.blocklist: must be a list of strings',
    ],
    [
      'a blocklist entry that is not a string',
      { types: { customer_id: { blocklist: ['A1', 42] } } },
      'identity.types.customer_id.blocklist[1]: must be a string',
    ],
    [
      'a blocklisted email that is not an address',
      { types: { email: { blocklist: ['walk-in'] } } },
      'identity.types.email.blocklist[0]: not an email address',
    ],
    [
      'a blocklisted phone without its country code',
      { types: { phone: { blocklist: ['07911 123456'] } } },
      'identity.types.phone.blocklist[0]: must be an international number starting with +',
    ],
    [
      'a blocklisted phone that is not a valid number',
      { types: { phone: { blocklist: ['+44 7700 901000'] } } },
      'identity.types.phone.blocklist[0]: not a valid number for +44',
    ],
    [
      'a blocklisted loyalty card that is too short',
      { types: { loyalty_card: { blocklist: ['12'] } } },
      'identity.types.loyalty_card.blocklist[0]: not a loyalty card number (4 to 40 letters and digits)',
    ],
  ])('refuses %s, naming the path', (_case, overrides, message) => {
    const error = configError(overrides);
    expect(error.message).toBe(message);
    expect(error.path).toBe(message.slice(0, message.indexOf(': ')));
    expect(error.name).toBe('IdentityConfigError');
  });
});
