import { defineDestination, type DestinationDefinition, type ProfileUpsert } from './destination-definition';
import { AuthError, DeliveryError } from './delivery-errors';
import { DestinationRunner, DestinationSettingsError } from './destination-runner';
import { OpenApiContract } from './openapi-contract';
import { MemoryRateGate } from './rate-gate';
import { ManualClock } from './retry-policy';
import type { SandboxRequest, SandboxResponse } from './sandbox/esp-emulator';
import { CaptureEmulator, DestinationHarness } from './sandbox/destination-harness';
import { MemoryTokenCache } from './token-cache';

type EchoSettings = { baseUrl: string; apiKey: string; clientSecret?: string };

const profile = (n: number): ProfileUpsert => ({
  customerId: `C${n}`,
  version: 1,
  email: `m${n}@example.com`,
  attributes: { n },
});

/**
 * A destination that posts profiles in batches of 3 to `/profiles` (2 a second); with a client secret it uses
 * OAuth.
 */
function echoDestination(oauth = false): DestinationDefinition<EchoSettings> {
  return defineDestination<EchoSettings>({
    type: 'echo',
    name: 'Echo',
    hosts: ['api.echo.invalid'],
    settingsSchema: {
      type: 'object',
      properties: {
        baseUrl: { type: 'string', default: 'https://api.echo.invalid' },
        apiKey: { type: 'string', minLength: 3, 'x-secret': true },
        clientSecret: { type: 'string', 'x-secret': true },
      },
      required: ['apiKey'],
      additionalProperties: false,
    },
    requestHeaders: (settings, token): Record<string, string> =>
      token === undefined ? { 'x-api-key': settings.apiKey } : { authorization: `Bearer ${token}` },
    ...(oauth
      ? {
          authentication: {
            fetchToken: async ({ http, settings, clock }) => {
              const response = await http.post<{ access_token: string; expires_in: number }>('/oauth/token', {
                client_secret: settings.clientSecret,
              });
              return {
                value: response.body.access_token,
                expiresAt: clock.now() + response.body.expires_in * 1000,
              };
            },
          },
        }
      : {}),
    testConnection: async ({ http }) => void (await http.get('/me')),
    rateBudgets: { profiles: { windows: [{ requests: 2, perMs: 1000 }], requests: ['POST /profiles'] } },
    operations: {
      upsertProfiles: {
        batchSize: 3,
        perform: async (items, { http }) => {
          await http.post('/profiles', {
            profiles: items.map((item) => ({ id: item.customerId, email: item.email })),
          });
          return items.map((item) => ({ status: 'ok', externalId: `E-${item.customerId}` }));
        },
      },
    },
  });
}

describe('DestinationRunner', () => {
  it('refuses invalid settings with every problem named', () => {
    const build = () =>
      new DestinationRunner(echoDestination(), { settings: { apiKey: 'k', colour: 'red' } });
    expect(build).toThrow(DestinationSettingsError);
    expect(build).toThrow(
      'Destination "echo" settings are invalid: /colour must NOT have additional properties; /apiKey must NOT have fewer than 3 characters',
    );
  });

  it('cuts items into the batch size and returns one result per item, in order', async () => {
    const bodies: unknown[] = [];
    const harness = await DestinationHarness.start({
      definition: echoDestination(),
      settings: { apiKey: 'key-1' },
      respond: (request) => {
        bodies.push(JSON.parse(request.rawBody.toString('utf8')));
        return { status: 200, body: {} };
      },
    });
    try {
      const results = await harness.run('upsertProfiles', [1, 2, 3, 4, 5, 6, 7].map(profile));
      expect(results.map((result) => result.status === 'ok' && result.externalId)).toEqual([
        'E-C1',
        'E-C2',
        'E-C3',
        'E-C4',
        'E-C5',
        'E-C6',
        'E-C7',
      ]);
      expect(bodies.map((body) => (body as { profiles: unknown[] }).profiles.length)).toEqual([3, 3, 1]);
      expect(harness.requests()[0]?.headers['x-api-key']).toBe('key-1');
    } finally {
      await harness.close();
    }
  });

  it('paces calls by the rate budget through the rate gate', async () => {
    const clock = new ManualClock(0);
    const harness = await DestinationHarness.start({
      definition: echoDestination(),
      settings: { apiKey: 'key-1' },
      runner: { clock, rateGate: new MemoryRateGate(clock) },
    });
    try {
      let done = false;
      const run = harness.run('upsertProfiles', [1, 2, 3, 4, 5, 6, 7, 8, 9].map(profile)).then((results) => {
        done = true;
        return results;
      });
      // Two calls fit the first second; the third waits for the clock.
      await waitFor(() => harness.requests().length === 2 && clock.pendingSleeps === 1);
      expect(done).toBe(false);
      clock.advance(1000);
      await run;
      expect(harness.requests()).toHaveLength(3);
    } finally {
      await harness.close();
    }
  });

  it('turns a 429 with Retry-After, a 5xx and a timeout into retry results for every item', async () => {
    const harness = await DestinationHarness.start({
      definition: echoDestination(),
      settings: { apiKey: 'key-1' },
      runner: { timeoutMs: 200 },
    });
    try {
      harness.sandbox.injectFault('capture', { kind: 'rate-limit', retryAfterSeconds: 30 });
      expect(await harness.run('upsertProfiles', [profile(1), profile(2)])).toEqual([
        {
          status: 'retry',
          afterMs: 30_000,
          reason:
            'HTTP 429: Request was throttled. Expected available in 30 second(s). (retry after 30000 ms)',
        },
        {
          status: 'retry',
          afterMs: 30_000,
          reason:
            'HTTP 429: Request was throttled. Expected available in 30 second(s). (retry after 30000 ms)',
        },
      ]);
      harness.sandbox.injectFault('capture', { kind: 'server-error', status: 502 });
      expect(await harness.run('upsertProfiles', [profile(1)])).toEqual([
        { status: 'retry', afterMs: 1000, reason: 'HTTP 502: Injected server error (sandbox fault)' },
      ]);
      harness.sandbox.injectFault('capture', { kind: 'timeout' });
      expect(await harness.run('upsertProfiles', [profile(1)])).toEqual([
        { status: 'retry', afterMs: 1000, reason: 'Request timed out after 200 ms: POST /profiles' },
      ]);
    } finally {
      await harness.close();
    }
  });

  it('throws an AuthError on 401 so the pipeline pauses the destination', async () => {
    const harness = await DestinationHarness.start({
      definition: echoDestination(),
      settings: { apiKey: 'key-1' },
    });
    try {
      harness.sandbox.injectFault('capture', { kind: 'unauthorized' });
      const error = await harness.run('upsertProfiles', [profile(1)]).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(AuthError);
      expect((error as DeliveryError).message).toBe(
        'HTTP 401: credentials refused: Injected authentication failure (sandbox fault)',
      );
    } finally {
      await harness.close();
    }
  });

  describe('OAuth destinations', () => {
    let tokensIssued = 0;
    let refuse = new Set<string>();
    const respond = (request: SandboxRequest): SandboxResponse => {
      if (request.path === '/oauth/token') {
        tokensIssued += 1;
        return { status: 200, body: { access_token: `tok-${tokensIssued}`, expires_in: 1200 } };
      }
      const token = request.headers['authorization']?.replace('Bearer ', '') ?? '';
      if (refuse.has(token)) return { status: 401, body: { message: 'token expired' } };
      return { status: 200, body: {} };
    };

    beforeEach(() => {
      tokensIssued = 0;
      refuse = new Set();
    });

    it('fetches one token, shares it through the cache and sends it as the bearer', async () => {
      const clock = new ManualClock(Date.parse('2026-11-23T10:00:00Z'));
      const tokenCache = new MemoryTokenCache(clock);
      const harness = await DestinationHarness.start({
        definition: echoDestination(true),
        settings: { apiKey: 'key-1', clientSecret: 's3cret' },
        respond,
        runner: { clock, tokenCache, instanceKey: 'dest-1' },
      });
      try {
        await Promise.all([
          harness.run('upsertProfiles', [profile(1)]),
          harness.run('upsertProfiles', [profile(2)]),
        ]);
        await harness.run('upsertProfiles', [profile(3)]);
        expect(tokensIssued).toBe(1);
        expect(await tokenCache.get('token:dest-1')).toEqual({
          value: 'tok-1',
          expiresAt: clock.now() + 1_200_000,
        });
        const sent = harness.requests().filter((request) => request.path === '/profiles');
        expect(sent.map((request) => request.headers['authorization'])).toEqual([
          'Bearer tok-1',
          'Bearer tok-1',
          'Bearer tok-1',
        ]);
        // Twenty minutes later the token is within the expiry margin: a new one is fetched before sending.
        clock.advance(19.5 * 60_000);
        await harness.run('upsertProfiles', [profile(4)]);
        expect(tokensIssued).toBe(2);
      } finally {
        await harness.close();
      }
    });

    it('hands each call its token in the operation context (for ESPs that put it in the body)', async () => {
      const echo = echoDestination(true);
      const upsert = echo.operations.upsertProfiles;
      if (upsert === undefined) throw new Error('echo has upsertProfiles');
      const seen: (string | undefined)[] = [];
      const definition = defineDestination<EchoSettings>({
        ...echo,
        operations: {
          upsertProfiles: {
            ...upsert,
            perform: (items, context) => {
              seen.push(context.token);
              return upsert.perform(items, context);
            },
          },
        },
      });
      const harness = await DestinationHarness.start({
        definition,
        settings: { apiKey: 'key-1', clientSecret: 's3cret' },
        respond,
      });
      try {
        await harness.run('upsertProfiles', [profile(1)]);
        refuse.add('tok-1');
        await harness.run('upsertProfiles', [profile(2)]);
        expect(seen).toEqual(['tok-1', 'tok-1', 'tok-2']);
      } finally {
        await harness.close();
      }
    });

    it('refreshes the token once on a 401 and succeeds with the new one', async () => {
      const harness = await DestinationHarness.start({
        definition: echoDestination(true),
        settings: { apiKey: 'key-1', clientSecret: 's3cret' },
        respond,
      });
      try {
        await harness.run('upsertProfiles', [profile(1)]);
        refuse.add('tok-1');
        expect(await harness.run('upsertProfiles', [profile(2)])).toEqual([
          { status: 'ok', externalId: 'E-C2' },
        ]);
        expect(tokensIssued).toBe(2);
      } finally {
        await harness.close();
      }
    });

    it('gives up with an AuthError when the fresh token is refused too', async () => {
      const harness = await DestinationHarness.start({
        definition: echoDestination(true),
        settings: { apiKey: 'key-1', clientSecret: 's3cret' },
        respond,
      });
      try {
        refuse = new Set(['tok-1', 'tok-2', 'tok-3']);
        const error = await harness.run('upsertProfiles', [profile(1)]).catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(AuthError);
        expect((error as Error).message).toBe(
          'HTTP 401: credentials refused: token expired (after refreshing the access token)',
        );
        expect(tokensIssued).toBe(2);
      } finally {
        await harness.close();
      }
    });
  });

  it('reports the operations and inbound features a destination lacks by name', async () => {
    const runner = new DestinationRunner(echoDestination(), { settings: { apiKey: 'key' } });
    await expect(runner.run('suppress', [{ customerId: 'C1' }])).rejects.toThrow(
      'Destination "echo" has no operation suppress',
    );
    expect(() => runner.parseInboundUnsubscribes({ headers: {}, rawBody: Buffer.from('{}') })).toThrow(
      'Destination "echo" does not receive unsubscribe webhooks',
    );
  });
});

describe('DestinationHarness', () => {
  it('validates every captured request against the contract and reports violations with the request line', async () => {
    const harness = await DestinationHarness.start({
      definition: echoDestination(),
      settings: { apiKey: 'key-1' },
      contract: echoContract(),
    });
    try {
      await harness.run('upsertProfiles', [profile(1)]);
      expect(harness.violations()).toEqual([]);
      await harness.runner.testConnection();
      expect(harness.violations()).toEqual(['GET /me: [path] no operation GET /me in the contract']);
      harness.clearRequests();
      await harness.run('upsertProfiles', [{ ...profile(2), email: undefined }]);
      expect(harness.violations()).toEqual([
        "POST /profiles: [body] /profiles/0 is missing required property 'email'",
      ]);
    } finally {
      await harness.close();
    }
  });

  it('the capture emulator answers with the given responder and keeps no state', () => {
    const capture = new CaptureEmulator();
    expect(capture.state()).toEqual({});
    expect(capture.errorResponse(503, 'down')).toEqual({ status: 503, body: { message: 'down' } });
  });
});

function echoContract(): OpenApiContract {
  return OpenApiContract.fromDocuments([
    {
      openapi: '3.0.2',
      info: { title: 'echo', version: '1' },
      paths: {
        '/profiles': {
          post: {
            requestBody: {
              required: true,
              content: {
                'application/json': {
                  schema: {
                    type: 'object',
                    required: ['profiles'],
                    properties: {
                      profiles: {
                        type: 'array',
                        items: {
                          type: 'object',
                          required: ['id', 'email'],
                          properties: { id: { type: 'string' } },
                        },
                      },
                    },
                  },
                },
              },
            },
            responses: { '200': { description: 'ok' } },
          },
        },
      },
    },
  ]);
}

async function waitFor(condition: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
