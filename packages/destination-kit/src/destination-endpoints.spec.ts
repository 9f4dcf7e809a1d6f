import {
  defineDestination,
  DestinationDefinitionError,
  type DestinationDefinition,
  pointSettingsAt,
  resolveDestinationSettings,
} from './destination-definition';
import { AllowedDestinationHosts } from './destination-hosts';
import { DestinationRunner } from './destination-runner';
import { MemoryConnectionGate } from './connection-gate';
import { DestinationHarness } from './sandbox/destination-harness';
import type { EspEmulator, SandboxResponse } from './sandbox/esp-emulator';

/** Holds every request `holdMs` before answering, counting how many overlap. */
class HoldingEmulator implements EspEmulator {
  readonly esp = 'holding';
  served = 0;
  peak = 0;
  private active = 0;

  constructor(private readonly holdMs: number) {}

  async handle(): Promise<SandboxResponse> {
    this.active += 1;
    this.peak = Math.max(this.peak, this.active);
    await new Promise((resolve) => setTimeout(resolve, this.holdMs));
    this.active -= 1;
    this.served += 1;
    return { status: 200, body: {} };
  }

  errorResponse(status: number, message: string): SandboxResponse {
    return { status, body: { message } };
  }

  state(): unknown {
    return { served: this.served };
  }

  reset(): void {
    this.served = 0;
  }
}

type HostSettings = { baseUrl: string; authBaseUrl: string; apiKey: string };

/**
 * A destination whose hosts depend on its credentials (like Mailchimp's data center or SFMC's subdomain), with
 * a second host flagged `x-endpoint`, at most two requests in flight, and a webhook handshake.
 */
function hostedDestination(): DestinationDefinition<HostSettings> {
  return defineDestination<HostSettings>({
    type: 'hosted',
    name: 'Hosted',
    hosts: ['*.api.hosted.invalid', '*.auth.hosted.invalid'],
    settingsSchema: {
      type: 'object',
      properties: {
        baseUrl: { type: 'string', default: 'https://{dc}.api.hosted.invalid' },
        authBaseUrl: { type: 'string', default: 'https://{dc}.auth.hosted.invalid', 'x-endpoint': true },
        apiKey: { type: 'string', minLength: 1, 'x-secret': true },
      },
      required: ['apiKey'],
      additionalProperties: false,
    },
    resolveSettings: (settings) => {
      const dc = /-([a-z]+\d+)$/.exec(settings.apiKey)?.[1];
      if (dc === undefined) {
        return {
          ok: false,
          errors: [{ pointer: '/apiKey', message: 'must end with its data center, e.g. -us21' }],
        };
      }
      return {
        ok: true,
        settings: {
          ...settings,
          baseUrl: settings.baseUrl.replace('{dc}', dc),
          authBaseUrl: settings.authBaseUrl.replace('{dc}', dc),
        },
      };
    },
    maxConcurrentRequests: 2,
    requestHeaders: (settings): Record<string, string> => ({ 'x-api-key': settings.apiKey }),
    testConnection: async ({ http }) => void (await http.get('/ping')),
    operations: {
      updateAttributes: {
        batchSize: 1,
        perform: async (items, { http }) => {
          await http.request('POST', '/soap', {
            body: '<Envelope/>',
            contentType: 'text/xml; charset=utf-8',
          });
          return items.map(() => ({ status: 'ok' }));
        },
      },
    },
    answerInboundHandshake: async (request) =>
      request.method === 'GET' ? { status: 200, body: `hello ${request.query?.['name'] ?? ''}` } : undefined,
  });
}

describe('Settings the destination derives', () => {
  it('resolves hosts from the credentials after validation and defaults', () => {
    const resolved = resolveDestinationSettings(hostedDestination(), { apiKey: 'abc-us21' });
    expect(resolved).toEqual({
      ok: true,
      settings: {
        apiKey: 'abc-us21',
        baseUrl: 'https://us21.api.hosted.invalid',
        authBaseUrl: 'https://us21.auth.hosted.invalid',
      },
    });
  });

  it('reports a setting it cannot derive from like a validation error, and the runner refuses it', () => {
    expect(resolveDestinationSettings(hostedDestination(), { apiKey: 'abc' })).toEqual({
      ok: false,
      errors: [{ pointer: '/apiKey', message: 'must end with its data center, e.g. -us21' }],
    });
    expect(() => new DestinationRunner(hostedDestination(), { settings: { apiKey: 'abc' } })).toThrow(
      'Destination "hosted" settings are invalid: /apiKey must end with its data center, e.g. -us21',
    );
  });

  it('points baseUrl and every x-endpoint setting at the sandbox, leaving the others alone', () => {
    const definition = hostedDestination();
    expect(
      pointSettingsAt(definition.settingsSchema, { apiKey: 'k-us1' }, 'http://127.0.0.1:1/sandbox/h'),
    ).toEqual({
      apiKey: 'k-us1',
      baseUrl: 'http://127.0.0.1:1/sandbox/h',
      authBaseUrl: 'http://127.0.0.1:1/sandbox/h',
    });
  });

  it('refuses a maxConcurrentRequests that is not a positive integer when the package loads', () => {
    expect(() => defineDestination({ ...hostedDestination(), maxConcurrentRequests: 0 })).toThrow(
      new DestinationDefinitionError('hosted', 'maxConcurrentRequests', 'must be a positive integer (got 0)'),
    );
  });
});

describe('Raw bodies, connection caps and webhook handshakes', () => {
  it('sends a raw body with its own content type', async () => {
    const harness = await DestinationHarness.start({
      definition: hostedDestination(),
      settings: { apiKey: 'k-us1' },
    });
    try {
      await harness.run('updateAttributes', [{ customerId: 'C1', version: 1, attributes: {} }]);
      const [request] = harness.requests();
      expect(request?.headers['content-type']).toBe('text/xml; charset=utf-8');
      expect(request?.body).toBe('<Envelope/>');
    } finally {
      await harness.close();
    }
  });

  it('never has more requests in flight than the definition allows, across runners of one account', async () => {
    const gate = new MemoryConnectionGate();
    const emulator = new HoldingEmulator(20);
    const harness = await DestinationHarness.start({
      definition: hostedDestination(),
      emulator,
      settings: { apiKey: 'k-us1' },
      runner: { connectionGate: gate, instanceKey: 'hosted:dest-1' },
    });
    // Another destination instance with the same credentials: the ESP counts its connections with the first's.
    const second = new DestinationRunner(hostedDestination(), {
      settings: { apiKey: 'k-us1', baseUrl: harness.baseUrl },
      connectionGate: gate,
      instanceKey: 'hosted:dest-2',
      allowedHosts: AllowedDestinationHosts.none.with(harness.baseUrl),
    });
    try {
      const item = (n: number) => ({ customerId: `C${n}`, version: 1, attributes: {} });
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, n) =>
          (n % 2 === 0 ? harness.runner : second).run('updateAttributes', [item(n)]),
        ),
      );
      expect(results.flat().every((result) => result.status === 'ok')).toBe(true);
      expect(emulator.served).toBe(12);
      // The server held each request 20 ms: without the cap all 12 would have overlapped.
      expect(emulator.peak).toBe(2);
      expect(second.accountKey).toBe(harness.runner.accountKey);
      expect(gate.count(harness.runner.accountKey)).toBe(0);
    } finally {
      await harness.close();
    }
  });

  it('a connection gate queues callers beyond the limit and lets the next one in on release', async () => {
    const gate = new MemoryConnectionGate();
    const first = await gate.acquire('k', 1);
    let secondIn = false;
    const second = gate.acquire('k', 1).then((release) => {
      secondIn = true;
      return release;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(secondIn).toBe(false);
    first();
    first(); // releasing twice frees one slot only
    const releaseSecond = await second;
    expect(secondIn).toBe(true);
    expect(gate.count('k')).toBe(1);
    releaseSecond();
    expect(gate.count('k')).toBe(0);
  });

  it('answers a handshake through the definition and leaves notifications to the parser', async () => {
    const runner = new DestinationRunner(hostedDestination(), { settings: { apiKey: 'k-us1' } });
    await expect(
      runner.answerInboundHandshake({
        method: 'GET',
        query: { name: 'mc' },
        headers: {},
        rawBody: Buffer.alloc(0),
      }),
    ).resolves.toEqual({ status: 200, body: 'hello mc' });
    await expect(
      runner.answerInboundHandshake({
        method: 'POST',
        headers: {},
        rawBody: Buffer.from('type=unsubscribe'),
      }),
    ).resolves.toBeUndefined();
  });
});
