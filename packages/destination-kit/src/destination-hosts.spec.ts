import type { LookupAddress } from 'node:dns';
import { defineDestination, type ProfileUpsert } from './destination-definition';
import { DeliveryError } from './delivery-errors';
import {
  AllowedDestinationHosts,
  destinationHostIssues,
  DestinationHostError,
  type HostLookup,
  nonPublicRange,
} from './destination-hosts';
import { DestinationRunner } from './destination-runner';
import { CaptureEmulator } from './sandbox/destination-harness';
import { EspSandbox } from './sandbox/esp-sandbox';

type TestedSettings = { baseUrl: string; authBaseUrl: string; apiKey: string };

const HOSTS = "Tested ESP's hosts (api.tested.invalid, *.auth.tested.invalid)";
const ALLOW = 'TESSERA_ALLOWED_DESTINATION_HOSTS can allow it';

/** An ESP on two hosts: profiles on api.tested.invalid, OAuth tokens (with `oauth`) on its regional auth host. */
function testedDestination(oauth = false) {
  return defineDestination<TestedSettings>({
    type: 'tested',
    name: 'Tested ESP',
    hosts: ['api.tested.invalid', '*.auth.tested.invalid'],
    settingsSchema: {
      type: 'object',
      properties: {
        baseUrl: { type: 'string', default: 'https://api.tested.invalid' },
        authBaseUrl: { type: 'string', default: 'https://eu.auth.tested.invalid', 'x-endpoint': true },
        apiKey: { type: 'string', 'x-secret': true },
      },
      required: ['apiKey'],
    },
    ...(oauth
      ? {
          authentication: {
            fetchToken: async ({ http, settings, clock }) => {
              const response = await http.post<{ token: string }>(`${settings.authBaseUrl}/token`, {});
              return { value: response.body.token, expiresAt: clock.now() + 600_000 };
            },
          },
        }
      : {}),
    requestHeaders: (settings, token): Record<string, string> => ({
      authorization: token ?? settings.apiKey,
    }),
    testConnection: async ({ http }) => void (await http.get('/me')),
    operations: {
      upsertProfiles: {
        batchSize: 10,
        perform: async (items, { http }) => {
          await http.post('/profiles', items);
          return items.map(() => ({ status: 'ok' }));
        },
      },
    },
  });
}

const profiles: ProfileUpsert[] = [
  { customerId: 'C1', version: 1, attributes: {} },
  { customerId: 'C2', version: 1, attributes: {} },
];

/** A DNS of the test's own: each name resolves to the addresses given (node's lookup signature). */
function dns(answers: Record<string, string[]>): HostLookup {
  return (hostname, _options, callback) => {
    const addresses = answers[hostname];
    if (addresses === undefined) {
      callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }), []);
      return;
    }
    callback(
      null,
      addresses.map((address): LookupAddress => ({ address, family: address.includes(':') ? 6 : 4 })),
    );
  };
}

async function refusal(promise: Promise<unknown>): Promise<DeliveryError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof DeliveryError) return error;
    throw error;
  }
  throw new Error('expected the request to be refused');
}

// A real sandbox on loopback answers every request (200): whatever reaches it is counted in its stats.
describe('Destination hosts: where a destination may send', () => {
  let sandbox: EspSandbox;
  let root: string;
  let port: string;

  beforeAll(async () => {
    sandbox = new EspSandbox(
      [
        new CaptureEmulator((request) =>
          request.path === '/moved'
            ? { status: 307, headers: { location: '/elsewhere' }, body: {} }
            : { status: 200, body: { token: 'tok' } },
        ),
      ],
      { limitsLifted: true },
    );
    root = await sandbox.listen();
    port = new URL(root).port;
  });

  afterAll(() => sandbox.close());
  beforeEach(() => sandbox.reset());

  const received = () => sandbox.stats('capture').total;

  it('refuses loopback, link-local and private addresses in every spelling, other hosts and plain http', async () => {
    const cases: [string, string][] = [
      [`http://127.0.0.1:${port}/capture`, `127.0.0.1 is a loopback address, not one of ${HOSTS}`],
      [`http://localhost:${port}/capture`, `localhost is not one of ${HOSTS}`],
      [`http://[::1]:${port}/capture`, `::1 is a loopback address, not one of ${HOSTS}`],
      [`http://0x7f000001:${port}/capture`, `127.0.0.1 is a loopback address, not one of ${HOSTS}`],
      [`http://2130706433:${port}/capture`, `127.0.0.1 is a loopback address, not one of ${HOSTS}`],
      [`http://0177.0.0.1:${port}/capture`, `127.0.0.1 is a loopback address, not one of ${HOSTS}`],
      [`http://127.1:${port}/capture`, `127.0.0.1 is a loopback address, not one of ${HOSTS}`],
      [
        `http://[::ffff:127.0.0.1]:${port}/capture`,
        `::ffff:7f00:1 (127.0.0.1) is a loopback address, not one of ${HOSTS}`,
      ],
      [`http://0.0.0.0:${port}/capture`, `0.0.0.0 is an unspecified address, not one of ${HOSTS}`],
      [
        'http://169.254.169.254/latest/meta-data',
        `169.254.169.254 is a link-local address, not one of ${HOSTS}`,
      ],
      ['http://[fe80::1]/', `fe80::1 is a link-local address, not one of ${HOSTS}`],
      ['http://10.1.2.3/', `10.1.2.3 is a private address, not one of ${HOSTS}`],
      ['https://192.168.0.10/', `192.168.0.10 is a private address, not one of ${HOSTS}`],
      ['http://[fd00::2]/', `fd00::2 is a unique local (private) address, not one of ${HOSTS}`],
      ['http://100.64.0.1/', `100.64.0.1 is a shared (carrier-grade NAT) address, not one of ${HOSTS}`],
      ['https://8.8.8.8/', `8.8.8.8 is an IP address, not one of ${HOSTS}`],
      ['https://evil.example/', `evil.example is not one of ${HOSTS}`],
      ['https://api.tested.invalid.evil.example/', `api.tested.invalid.evil.example is not one of ${HOSTS}`],
      ['http://api.tested.invalid/', 'api.tested.invalid is called over https only (got http:)'],
    ];
    for (const [baseUrl, reason] of cases) {
      const runner = new DestinationRunner(testedDestination(), { settings: { apiKey: 'k', baseUrl } });
      const message = `Destination host refused: ${reason}; ${ALLOW}`;
      // Refused for good, every item alike, naming the host: nothing to retry, no response to keep.
      await expect(runner.run('upsertProfiles', profiles)).resolves.toEqual([
        { status: 'rejected', reason: message },
        { status: 'rejected', reason: message },
      ]);
      const error = await refusal(runner.testConnection());
      expect(error).toBeInstanceOf(DestinationHostError);
      expect([error.kind, error.message, error.status, error.body]).toEqual([
        'rejected',
        message,
        undefined,
        undefined,
      ]);
    }
    expect(received()).toBe(0);
  });

  it('refuses a token URL the same way: no token is asked for, nothing else is sent', async () => {
    const runner = new DestinationRunner(testedDestination(true), {
      settings: { apiKey: 'k', baseUrl: `${root}/capture`, authBaseUrl: 'http://169.254.169.254' },
      allowedHosts: new AllowedDestinationHosts([`${root}/capture`]),
    });
    const message = `Destination host refused: 169.254.169.254 is a link-local address, not one of ${HOSTS}; ${ALLOW}`;
    await expect(runner.run('upsertProfiles', profiles)).resolves.toEqual([
      { status: 'rejected', reason: message },
      { status: 'rejected', reason: message },
    ]);
    expect((await refusal(runner.testConnection())).message).toBe(message);
    expect(received()).toBe(0);
  });

  it('refuses an ESP host whose name resolves to a private, loopback or link-local address', async () => {
    const cases: [string[], string][] = [
      [['127.0.0.1'], '127.0.0.1, a loopback address'],
      [['10.0.0.7'], '10.0.0.7, a private address'],
      [['169.254.169.254'], '169.254.169.254, a link-local address'],
      [['::1'], '::1, a loopback address'],
      [['fd12:3456::1'], 'fd12:3456::1, a unique local (private) address'],
      [['::ffff:192.168.1.1'], '::ffff:192.168.1.1, a private address'],
      [['100.64.0.1'], '100.64.0.1, a shared (carrier-grade NAT) address'],
      [['64:ff9b::a00:7'], '64:ff9b::a00:7, a private address'],
      // One public address does not make up for a private one beside it.
      [['93.184.215.14', '10.9.8.7'], '10.9.8.7, a private address'],
    ];
    for (const [addresses, resolved] of cases) {
      const runner = new DestinationRunner(testedDestination(), {
        settings: { apiKey: 'k', baseUrl: `https://api.tested.invalid:${port}/capture` },
        hostLookup: dns({ 'api.tested.invalid': addresses }),
        timeoutMs: 5_000,
      });
      const message = `Destination host refused: api.tested.invalid resolves to ${resolved}; ${ALLOW}`;
      await expect(runner.run('upsertProfiles', profiles)).resolves.toEqual([
        { status: 'rejected', reason: message },
        { status: 'rejected', reason: message },
      ]);
    }
    // The token host too, before any token is asked for.
    const oauth = new DestinationRunner(testedDestination(true), {
      settings: { apiKey: 'k', authBaseUrl: `https://eu.auth.tested.invalid:${port}/capture` },
      hostLookup: dns({ 'eu.auth.tested.invalid': ['127.0.0.1'] }),
    });
    expect((await refusal(oauth.testConnection())).message).toBe(
      `Destination host refused: eu.auth.tested.invalid resolves to 127.0.0.1, a loopback address; ${ALLOW}`,
    );
    expect(received()).toBe(0);
  });

  it('sends to what the deployment allows: a host, a host:port, or below a URL prefix only', async () => {
    const allowed = async (allowedHosts: AllowedDestinationHosts, baseUrl: string) =>
      new DestinationRunner(testedDestination(), { settings: { apiKey: 'k', baseUrl }, allowedHosts }).run(
        'upsertProfiles',
        profiles,
      );
    const ok = [{ status: 'ok' }, { status: 'ok' }];
    await expect(
      allowed(new AllowedDestinationHosts([`127.0.0.1:${port}`]), `${root}/capture`),
    ).resolves.toEqual(ok);
    // Allowed by name, it is sent to whatever the name resolves to (here the real DNS: loopback).
    await expect(
      allowed(new AllowedDestinationHosts(['localhost']), `http://localhost:${port}/capture`),
    ).resolves.toEqual(ok);
    await expect(
      allowed(new AllowedDestinationHosts([`${root}/capture`]), `${root}/capture`),
    ).resolves.toEqual(ok);
    expect(received()).toBe(3);

    // Another port of an allowed host:port, and a path beside an allowed prefix, stay refused.
    const refusedPort = await allowed(new AllowedDestinationHosts(['127.0.0.1:1']), `${root}/capture`);
    expect(refusedPort[0]).toEqual({
      status: 'rejected',
      reason: `Destination host refused: 127.0.0.1 is a loopback address, not one of ${HOSTS}; ${ALLOW}`,
    });
    const beside = await allowed(new AllowedDestinationHosts([`${root}/capture/api`]), `${root}/capture`);
    expect(beside[0]?.status).toBe('rejected');
    // A redirect out of the allowed prefix (same origin, so the client would follow it) is refused too.
    const moving = defineDestination<TestedSettings>({
      ...testedDestination(),
      testConnection: async ({ http }) => void (await http.get('/moved')),
    });
    const redirected = new DestinationRunner(moving, {
      settings: { apiKey: 'k', baseUrl: `${root}/capture` },
      allowedHosts: new AllowedDestinationHosts([`${root}/capture`]),
    });
    expect((await refusal(redirected.testConnection())).message).toBe(
      `Destination host refused: 127.0.0.1 is a loopback address, not one of ${HOSTS}; ${ALLOW}`,
    );
    expect(sandbox.stats('capture').byEndpoint).toEqual({ 'POST /profiles': 3, 'GET /moved': 1 });
  });

  it('names the setting and the host when settings are checked (the console, the workspace file)', () => {
    const definition = testedDestination();
    const settings = {
      apiKey: 'k',
      baseUrl: 'http://[::1]:8080/api',
      authBaseUrl: 'https://metadata.google.internal',
    };
    expect(destinationHostIssues(definition, settings)).toEqual([
      { pointer: '/baseUrl', message: `::1 is a loopback address, not one of ${HOSTS}; ${ALLOW}` },
      { pointer: '/authBaseUrl', message: `metadata.google.internal is not one of ${HOSTS}; ${ALLOW}` },
    ]);
    expect(
      destinationHostIssues(
        definition,
        settings,
        new AllowedDestinationHosts(['[::1]:8080', 'metadata.google.internal']),
      ),
    ).toEqual([]);
    expect(
      destinationHostIssues(definition, {
        apiKey: 'k',
        baseUrl: 'https://api.tested.invalid/v2',
        authBaseUrl: 'https://us.auth.tested.invalid.',
      }),
    ).toEqual([]);
  });
});

describe('AllowedDestinationHosts', () => {
  it('parses hosts, host:port, wildcards and URL prefixes, and refuses anything else by name', () => {
    const allowed = AllowedDestinationHosts.parse(
      ' esp-proxy.internal , *.corp.example,10.0.4.2:8443, [fd00::2], http://127.0.0.1:8080/sandbox/ ,',
    );
    expect(allowed.entries).toEqual([
      'esp-proxy.internal',
      '*.corp.example',
      '10.0.4.2:8443',
      '[fd00::2]',
      'http://127.0.0.1:8080/sandbox/',
    ]);
    const allows = (url: string) => allowed.allows(new URL(url));
    expect(allows('https://esp-proxy.internal:4443/x')).toBe(true);
    expect(allows('https://eu.corp.example/x')).toBe(true);
    expect(allows('https://a.eu.corp.example/x')).toBe(false);
    expect(allows('https://10.0.4.2:8443/')).toBe(true);
    expect(allows('https://10.0.4.2/')).toBe(false);
    expect(allows('http://[fd00::2]:9000/')).toBe(true);
    expect(allows('http://127.0.0.1:8080/sandbox/klaviyo/api')).toBe(true);
    expect(allows('http://127.0.0.1:8080/sandbox')).toBe(true);
    expect(allows('http://127.0.0.1:8080/sandboxes')).toBe(false);
    expect(allows('http://127.0.0.1:8080/v1/dsr')).toBe(false);
    expect(allows('http://127.0.0.1:8080/sandbox/../v1/dsr')).toBe(false);
    expect(allows('https://127.0.0.1:8080/sandbox/klaviyo')).toBe(false);

    const problems: [string, string][] = [
      [
        '*',
        '"*" with a wildcard must be a lower-case host name such as a.klaviyo.com or *.api.mailchimp.com (got "*")',
      ],
      [
        '*.com',
        '"*.com" with a wildcard must spell out its last two labels: * may stand for a sub-domain only (got "*.com")',
      ],
      ['ftp://files.example', '"ftp://files.example" must be an http(s) URL'],
      ['http://user:pw@proxy.example', '"http://user:pw@proxy.example" must not carry credentials'],
      ['http://proxy.example/?a=1', '"http://proxy.example/?a=1" must not have a query or fragment'],
      ['10.0.0.1:99999', '"10.0.0.1:99999" has a port above 65535'],
      ['proxy.example/path', '"proxy.example/path" must be a host, host:port, or an http(s) URL prefix'],
    ];
    for (const [entry, problem] of problems) {
      expect(() => AllowedDestinationHosts.parse(entry)).toThrow(problem);
    }
  });

  it('judges resolved addresses: public unicast passes, NAT64 and IPv4-mapped by the IPv4 they carry', () => {
    expect(nonPublicRange('93.184.215.14')).toBeUndefined();
    expect(nonPublicRange('2606:2800:21f:cb07:6820:80da:af6b:8b2c')).toBeUndefined();
    expect(nonPublicRange('64:ff9b::5db8:d70e')).toBeUndefined();
    expect(nonPublicRange('::ffff:93.184.215.14')).toBeUndefined();
    expect(nonPublicRange('::ffff:10.0.0.1')).toBe('a private address');
    expect(nonPublicRange('2002:7f00:1::1')).toBe('a special-purpose address (6to4)');
    expect(nonPublicRange('203.0.113.9')).toBe('a reserved address');
    expect(nonPublicRange('224.0.0.1')).toBe('a multicast address');
  });
});
