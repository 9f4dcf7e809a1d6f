import { ConfigurationError } from '@tessera/runtime';
import {
  loadAnalyticsKeys,
  parseAnalyticsKeys,
  pseudonymizeExport,
  PseudonymousKeys,
  UnkeyableEmailError,
} from '../../src/privacy';

// 32 bytes each; the expected keys below were computed outside Tessera with
// `echo -n ada@example.com | openssl dgst -sha256 -hmac <secret>`, so they pin the algorithm and its input.
const SECRET_A = Buffer.from('a'.repeat(32));
const SECRET_B = Buffer.from('b'.repeat(32));
const ADA_UNDER_A = '0571680565a6fe19c1e6b0208de2b7f6e38582a199b4f1b3ea092fa0a11548b3';
const ADA_UNDER_B = '5544ab98876fd1aaaea878bf68202656242463197f397713147f0398d43e196e';
const BASE64_A = 'YWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWE=';
const BASE64_B = 'YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI=';

function configurationError(run: () => unknown): ConfigurationError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigurationError) return error;
    throw error;
  }
  throw new Error('expected a ConfigurationError');
}

describe('PseudonymousKeys', () => {
  const v1 = new PseudonymousKeys({ current: { version: 'v1', secret: SECRET_A } });
  const rotated = new PseudonymousKeys({
    current: { version: 'v2', secret: SECRET_B },
    previous: [{ version: 'v1', secret: SECRET_A }],
  });

  it('is the HMAC-SHA-256 of the normalized email, prefixed by the version, and stable', () => {
    expect(v1.keyFor('ada@example.com')).toBe(`v1:${ADA_UNDER_A}`);
    expect(v1.keyFor('ada@example.com')).toBe(v1.keyFor('ada@example.com'));
    expect(
      new PseudonymousKeys({ current: { version: 'v1', secret: SECRET_A } }).keyFor('ada@example.com'),
    ).toBe(`v1:${ADA_UNDER_A}`);
  });

  it('keys the normalized address: case and surrounding spaces do not change it', () => {
    expect(v1.keyFor('Ada@Example.com ')).toBe(v1.keyFor('ada@example.com'));
    expect(v1.keyFor('  ADA@EXAMPLE.COM')).toBe(`v1:${ADA_UNDER_A}`);
    expect(v1.keyFor('grace@example.com')).not.toBe(v1.keyFor('ada@example.com'));
  });

  it('differs across versions, and the current version makes new keys', () => {
    expect(rotated.keyFor('ada@example.com')).toBe(`v2:${ADA_UNDER_B}`);
    expect(rotated.keyFor('ada@example.com')).not.toBe(v1.keyFor('ada@example.com'));
    expect(rotated.currentVersion).toBe('v2');
    expect(rotated.versions).toEqual(['v2', 'v1']);
  });

  it('gives the key under every known version, current first, to join across a rotation', () => {
    expect(rotated.keysFor(' Ada@Example.com')).toEqual([`v2:${ADA_UNDER_B}`, `v1:${ADA_UNDER_A}`]);
    expect(v1.keysFor('ada@example.com')).toEqual([`v1:${ADA_UNDER_A}`]);
  });

  it('tells the version of a key it knows, and nothing for anything else', () => {
    expect(rotated.versionOf(`v1:${ADA_UNDER_A}`)).toBe('v1');
    expect(rotated.versionOf(rotated.keyFor('grace@example.com'))).toBe('v2');
    expect(v1.versionOf(`v2:${ADA_UNDER_B}`)).toBeUndefined();
    expect(rotated.versionOf(`v1:${ADA_UNDER_A.slice(1)}`)).toBeUndefined();
    expect(rotated.versionOf(`v1:${ADA_UNDER_A.toUpperCase()}`)).toBeUndefined();
    expect(rotated.versionOf('ada@example.com')).toBeUndefined();
  });

  it('refuses a value that is not an email address with a typed error that does not repeat it', () => {
    const error = (() => {
      try {
        v1.keyFor('not an email');
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(UnkeyableEmailError);
    expect((error as UnkeyableEmailError).message).toBe(
      'no analytics key for this value: not an email address',
    );
    expect(() => rotated.keysFor('ada@')).toThrow(UnkeyableEmailError);
    expect(v1.tryKeyFor('ada@')).toBeUndefined();
    expect(v1.tryKeyFor('Ada@Example.com')).toBe(`v1:${ADA_UNDER_A}`);
  });

  it('refuses secrets shorter than 32 bytes, bad versions and a version listed twice', () => {
    expect(() => new PseudonymousKeys({ current: { version: 'v1', secret: Buffer.alloc(31, 1) } })).toThrow(
      'analytics keys: the secret of v1 is 31 bytes; at least 32 are needed (e.g. `openssl rand -base64 32`)',
    );
    expect(
      () =>
        new PseudonymousKeys({
          current: { version: 'v2', secret: SECRET_B },
          previous: [{ version: 'v1', secret: Buffer.alloc(8) }],
        }),
    ).toThrow('analytics keys: the secret of v1 is 8 bytes; at least 32 are needed');
    expect(() => new PseudonymousKeys({ current: { version: 'v:1', secret: SECRET_A } })).toThrow(
      'analytics keys: version "v:1" must be 1 to 32 letters, digits, ".", "_" or "-"',
    );
    expect(
      () =>
        new PseudonymousKeys({
          current: { version: 'v1', secret: SECRET_B },
          previous: [{ version: 'v1', secret: SECRET_A }],
        }),
    ).toThrow('analytics keys: version v1 is listed twice');
  });

  it('does not follow later changes to the secret buffer it was given', () => {
    const secret = Buffer.from(SECRET_A);
    const keys = new PseudonymousKeys({ current: { version: 'v1', secret } });
    secret.fill(0);
    expect(keys.keyFor('ada@example.com')).toBe(`v1:${ADA_UNDER_A}`);
  });
});

describe('parseAnalyticsKeys (TESSERA_ANALYTICS_KEYS)', () => {
  it('reads version:base64 pairs, the first being current', () => {
    const set = parseAnalyticsKeys(`v2:${BASE64_B}, v1:${BASE64_A}`);
    expect(set.current.version).toBe('v2');
    expect(set.current.secret.equals(SECRET_B)).toBe(true);
    expect(set.previous?.map((entry) => entry.version)).toEqual(['v1']);
    expect(set.previous?.[0].secret.equals(SECRET_A)).toBe(true);
    expect(new PseudonymousKeys(set).keysFor('ada@example.com')).toEqual([
      `v2:${ADA_UNDER_B}`,
      `v1:${ADA_UNDER_A}`,
    ]);
  });

  it('loads from the environment, and nothing when unset', () => {
    expect(loadAnalyticsKeys({})).toBeUndefined();
    expect(loadAnalyticsKeys({ TESSERA_ANALYTICS_KEYS: '  ' })).toBeUndefined();
    expect(loadAnalyticsKeys({ TESSERA_ANALYTICS_KEYS: `v1:${BASE64_A}` })?.keyFor('ada@example.com')).toBe(
      `v1:${ADA_UNDER_A}`,
    );
  });

  it('refuses bad values with ConfigurationError messages that never show a secret', () => {
    const shape =
      'expected comma-separated version:base64-secret pairs, current first (e.g. "v2:<base64>,v1:<base64>")';
    expect(configurationError(() => parseAnalyticsKeys('')).message).toBe(`TESSERA_ANALYTICS_KEYS: ${shape}`);
    const missingVersion = configurationError(() => parseAnalyticsKeys(`v2:${BASE64_B},${BASE64_A}`));
    expect(missingVersion.setting).toBe('TESSERA_ANALYTICS_KEYS');
    expect(missingVersion.message).toBe(
      'TESSERA_ANALYTICS_KEYS: entry 2 is not version:base64-secret ' +
        `(a version is 1 to 32 letters, digits, ".", "_" or "-"); ${shape}`,
    );
    expect(missingVersion.message).not.toContain(BASE64_A);
    expect(configurationError(() => parseAnalyticsKeys('v1:not base64!')).message).toBe(
      'TESSERA_ANALYTICS_KEYS: the secret of v1 is not base64',
    );
    const short = Buffer.alloc(16, 7).toString('base64');
    const shortError = configurationError(() => parseAnalyticsKeys(`v1:${short}`));
    expect(shortError.message).toBe(
      'TESSERA_ANALYTICS_KEYS: the secret of v1 is 16 bytes; at least 32 are needed (e.g. `openssl rand -base64 32`)',
    );
    expect(shortError.message).not.toContain(short);
    expect(configurationError(() => parseAnalyticsKeys(`v1:${BASE64_A},v1:${BASE64_B}`)).message).toBe(
      'TESSERA_ANALYTICS_KEYS: version v1 is listed twice',
    );
    expect(() => loadAnalyticsKeys({ TESSERA_ANALYTICS_KEYS: 'v1:' })).toThrow(ConfigurationError);
  });
});

describe('pseudonymizeExport', () => {
  const keys = new PseudonymousKeys({ current: { version: 'v1', secret: SECRET_A } });
  const rows = [
    {
      customer_id: 'c-1',
      email: 'Ada@Example.com ',
      phone: '+447700900123',
      first_name: 'Ada',
      last_name: 'Lovelace',
      address: '12 St James Sq',
      tier: 'Gold',
    },
    { customer_id: 'c-2', email: 'not an email', phone: '+447700900124', tier: 'Member' },
    { customer_id: 'c-3', tier: 'Member' },
  ];

  it('puts the key in place of the email and drops the contact fields, leaving the input alone', () => {
    const before = JSON.stringify(rows);
    const out = pseudonymizeExport(keys, rows, {
      replace: 'email',
      drop: ['phone', 'first_name', 'last_name', 'address'],
    });
    expect(out).toEqual([
      { customer_id: 'c-1', email: `v1:${ADA_UNDER_A}`, tier: 'Gold' },
      { customer_id: 'c-2', email: null, tier: 'Member' },
      { customer_id: 'c-3', tier: 'Member', email: null },
    ]);
    expect(Object.keys(out[0])).toEqual(['customer_id', 'email', 'tier']);
    expect(JSON.stringify(rows)).toBe(before);
  });

  it('can write the key to another field, and drops the contact fields by default', () => {
    const out = pseudonymizeExport(keys, rows.slice(0, 1), { replace: 'email', into: 'analytics_key' });
    expect(out).toEqual([{ customer_id: 'c-1', analytics_key: `v1:${ADA_UNDER_A}`, tier: 'Gold' }]);
  });

  it('drops only what it is told to when given a list', () => {
    const out = pseudonymizeExport(keys, rows.slice(0, 1), { replace: 'email', drop: ['phone'] });
    expect(out[0]).toEqual({
      customer_id: 'c-1',
      email: `v1:${ADA_UNDER_A}`,
      first_name: 'Ada',
      last_name: 'Lovelace',
      address: '12 St James Sq',
      tier: 'Gold',
    });
  });
});
