import type { DestinationDefinition } from './destination-definition';
import {
  destinationAccountKey,
  destinationHostUrls,
  pathBelowHost,
  rateClaimsFor,
  RateBudgets,
} from './rate-budgets';
import { MemoryRateGate } from './rate-gate';

const window = { requests: 10, perMs: 1000 };

describe('RateBudgets.matching', () => {
  const budgets = new RateBudgets({
    lists: { windows: [window], requests: ['POST /api/lists/*/relationships/profiles', 'GET /api/lists'] },
    everything: { windows: [window], requests: ['* /**'] },
    profiles: { windows: [window], requests: ['* /api/profiles/**'] },
    token: { windows: [window], requests: ['POST /v2/token'] },
  });
  const names = (method: string, path: string): string[] =>
    budgets.matching(method, path).map((budget) => budget.name);

  it('matches a literal path and `*` as exactly one segment', () => {
    expect(names('POST', '/api/lists/L1/relationships/profiles')).toEqual(['lists', 'everything']);
    expect(names('POST', '/api/lists/L1/L2/relationships/profiles')).toEqual(['everything']);
    expect(names('POST', '/api/lists//relationships/profiles')).toEqual(['lists', 'everything']);
    expect(names('GET', '/api/lists')).toEqual(['lists', 'everything']);
    // A trailing slash names the same resource.
    expect(names('GET', '/api/lists/')).toEqual(['lists', 'everything']);
  });

  it('matches the method exactly (in any case) unless the pattern says *', () => {
    expect(names('DELETE', '/api/lists/L1/relationships/profiles')).toEqual(['everything']);
    expect(names('post', '/v2/token')).toEqual(['everything', 'token']);
    expect(names('GET', '/v2/token')).toEqual(['everything']);
  });

  it('lets a trailing /** match any rest, or none', () => {
    expect(names('GET', '/api/profiles')).toEqual(['everything', 'profiles']);
    expect(names('PATCH', '/api/profiles/01H/relationships/lists')).toEqual(['everything', 'profiles']);
    expect(names('GET', '/api/profile-import')).toEqual(['everything']);
    expect(names('GET', '/')).toEqual(['everything']);
  });
});

describe('pathBelowHost', () => {
  const hosts = [
    new URL('http://127.0.0.1:3000/sandbox/sfmc'),
    new URL('http://127.0.0.1:3000/sandbox/sfmc-auth/'),
    new URL('https://mc123.rest.marketingcloudapis.com'),
  ];

  it('removes the longest host prefix the URL falls under', () => {
    expect(pathBelowHost(new URL('http://127.0.0.1:3000/sandbox/sfmc/data/v1/async'), hosts)).toBe(
      '/data/v1/async',
    );
    expect(pathBelowHost(new URL('http://127.0.0.1:3000/sandbox/sfmc-auth/v2/token'), hosts)).toBe(
      '/v2/token',
    );
    expect(pathBelowHost(new URL('https://mc123.rest.marketingcloudapis.com/hub/v1/x?y=1'), hosts)).toBe(
      '/hub/v1/x',
    );
    expect(pathBelowHost(new URL('http://127.0.0.1:3000/sandbox/sfmc'), hosts)).toBe('/');
  });

  it('keeps the whole path of a URL on no known host, or on another origin', () => {
    expect(pathBelowHost(new URL('http://127.0.0.1:3001/sandbox/sfmc/data'), hosts)).toBe(
      '/sandbox/sfmc/data',
    );
    // A prefix is a whole segment: `/sandbox/sfmcx` is not below `/sandbox/sfmc`.
    expect(pathBelowHost(new URL('http://127.0.0.1:3000/sandbox/sfmcx/data'), hosts)).toBe(
      '/sandbox/sfmcx/data',
    );
  });
});

type AccountSettings = { baseUrl: string; apiKey: string; authBaseUrl?: string; listId?: string };

const accountDefinition: Pick<DestinationDefinition<AccountSettings>, 'type' | 'settingsSchema'> = {
  type: 'mail',
  settingsSchema: {
    type: 'object',
    properties: {
      baseUrl: { type: 'string', default: 'https://api.mail.invalid' },
      authBaseUrl: { type: 'string', 'x-endpoint': true },
      apiKey: { type: 'string', 'x-secret': true },
      listId: { type: 'string' },
    },
  },
};

describe('destinationAccountKey', () => {
  const settings: AccountSettings = {
    baseUrl: 'https://api.mail.invalid',
    apiKey: 'secret-key-1',
    listId: 'L1',
  };

  it('is the type and a short hash, the same for two instances on one account whatever else differs', () => {
    const key = destinationAccountKey(accountDefinition, settings);
    expect(key).toMatch(/^mail:[0-9a-f]{16}$/);
    expect(key).not.toContain('secret-key-1');
    expect(destinationAccountKey(accountDefinition, { ...settings, listId: 'L2' })).toBe(key);
  });

  it('differs with the secret or the base URL', () => {
    const key = destinationAccountKey(accountDefinition, settings);
    expect(destinationAccountKey(accountDefinition, { ...settings, apiKey: 'secret-key-2' })).not.toBe(key);
    expect(
      destinationAccountKey(accountDefinition, { ...settings, baseUrl: 'https://eu.mail.invalid' }),
    ).not.toBe(key);
  });

  it("hashes the definition's own account key too, so it may be built from credentials", () => {
    const byListOwner = {
      ...accountDefinition,
      accountKey: (s: AccountSettings) => s.apiKey.split('-')[0] ?? '',
    };
    const key = destinationAccountKey(byListOwner, settings);
    expect(key).toMatch(/^mail:[0-9a-f]{16}$/);
    expect(destinationAccountKey(byListOwner, { ...settings, apiKey: 'secret-other' })).toBe(key);
    expect(destinationAccountKey(byListOwner, { ...settings, apiKey: 'public-key' })).not.toBe(key);
  });
});

describe('destinationHostUrls', () => {
  it('lists baseUrl and every x-endpoint setting that is set', () => {
    expect(
      destinationHostUrls(accountDefinition.settingsSchema, {
        baseUrl: 'https://api.mail.invalid',
        authBaseUrl: 'https://auth.mail.invalid',
        apiKey: 'https://not-a-host.invalid',
      }),
    ).toEqual(['https://api.mail.invalid', 'https://auth.mail.invalid']);
    expect(
      destinationHostUrls(accountDefinition.settingsSchema, { baseUrl: 'https://api.mail.invalid' }),
    ).toEqual(['https://api.mail.invalid']);
  });
});

describe('rateClaimsFor', () => {
  const pacing = {
    gate: new MemoryRateGate(),
    accountKey: 'mail:0123456789abcdef',
    budgets: new RateBudgets({
      rest: {
        windows: [
          { requests: 20, perMs: 1000 },
          { requests: 1000, perMs: 60_000 },
        ],
        requests: ['* /data/**'],
      },
      burst: { windows: [{ requests: 5, perMs: 200 }], requests: ['POST /data/v1/async/**'] },
    }),
    hosts: ['http://127.0.0.1:3000/sandbox/mail'],
  };

  it('claims each matching budget under the account, with its windows', () => {
    expect(
      rateClaimsFor(pacing, 'POST', new URL('http://127.0.0.1:3000/sandbox/mail/data/v1/async/key:de/rows')),
    ).toEqual([
      {
        key: 'mail:0123456789abcdef:rest',
        windows: [
          { requests: 20, perMs: 1000 },
          { requests: 1000, perMs: 60_000 },
        ],
      },
      { key: 'mail:0123456789abcdef:burst', windows: [{ requests: 5, perMs: 200 }] },
    ]);
    expect(rateClaimsFor(pacing, 'GET', new URL('http://127.0.0.1:3000/sandbox/mail/v2/token'))).toEqual([]);
  });
});
