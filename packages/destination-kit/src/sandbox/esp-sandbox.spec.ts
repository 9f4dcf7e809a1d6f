import type { EmulatorTools, EspEmulator, SandboxRequest, SandboxResponse } from './esp-emulator';
import { EspSandbox } from './esp-sandbox';

/** A tiny ESP: `POST /items` stores the JSON body (limit 2 per second), `GET /items` lists them. */
class ShelfEmulator implements EspEmulator {
  readonly esp = 'shelf';
  items: unknown[] = [];
  seen: SandboxRequest[] = [];

  handle(request: SandboxRequest, tools: EmulatorTools): SandboxResponse {
    this.seen.push(request);
    if (request.path === '/items' && request.method === 'POST') {
      const wait = tools.rateLimit('items', [{ requests: 2, perMs: 1000 }]);
      if (wait !== undefined) {
        return {
          ...this.errorResponse(429, 'slow down'),
          headers: { 'retry-after': String(Math.ceil(wait / 1000)) },
        };
      }
      this.items.push(JSON.parse(request.rawBody.toString('utf8')));
      return { status: 201, body: { stored: this.items.length } };
    }
    if (request.path === '/items' && request.method === 'GET')
      return { status: 200, body: { items: this.items } };
    return this.errorResponse(404, `no route ${request.method} ${request.path}`);
  }

  errorResponse(status: number, message: string): SandboxResponse {
    return { status, body: { fault: { status, message } } };
  }

  state(): unknown {
    return { items: this.items };
  }

  reset(): void {
    this.items = [];
  }
}

describe('EspSandbox', () => {
  let sandbox: EspSandbox;
  let shelf: ShelfEmulator;
  let root: string;

  beforeEach(async () => {
    shelf = new ShelfEmulator();
    sandbox = new EspSandbox([shelf], { record: true, holdMs: 5_000 });
    root = await sandbox.listen();
  });

  afterEach(() => sandbox.close());

  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${root}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(body),
    });

  it('routes /sandbox/{esp}/… to the emulator with the path below the mount, lower-case headers and the raw body', async () => {
    const response = await post('/shelf/items?dry=no', { sku: 'A1' }, { 'X-Api-Key': 'k1' });
    expect(response.status).toBe(201);
    expect(await response.json()).toEqual({ stored: 1 });
    const [request] = shelf.seen;
    expect(request?.path).toBe('/items');
    expect(request?.query.get('dry')).toBe('no');
    expect(request?.headers['x-api-key']).toBe('k1');
    expect(request?.rawBody.toString('utf8')).toBe('{"sku":"A1"}');
    expect(sandbox.exchanges('shelf')).toMatchObject([
      { method: 'POST', path: '/items?dry=no', status: 201 },
    ]);
  });

  it('answers 404 naming the mounted ESPs for an unknown mount, and lists them at the root', async () => {
    const unknown = await fetch(`${root}/nope/items`);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toEqual({ error: 'No emulator is mounted at "nope"; mounted: shelf' });
    const index = await fetch(`${root}/`);
    expect(await index.json()).toEqual({ esps: ['shelf'], limitsLifted: false });
  });

  it('enforces the emulator rate limits until they are lifted over the control API', async () => {
    expect((await post('/shelf/items', 1)).status).toBe(201);
    expect((await post('/shelf/items', 2)).status).toBe(201);
    const limited = await post('/shelf/items', 3);
    expect(limited.status).toBe(429);
    expect(limited.headers.get('retry-after')).toBe('1');
    const lift = await post('/shelf/_sandbox/limits', { lifted: true });
    expect(await lift.json()).toEqual({ limitsLifted: true });
    for (let i = 0; i < 10; i++) expect((await post('/shelf/items', i)).status).toBe(201);
    expect(shelf.items).toHaveLength(12);
  });

  it('injects 5xx, 429 storms and 401 in the ESP error shape, for the requested number of requests', async () => {
    sandbox.injectFault('shelf', { kind: 'server-error', status: 503, times: 2 });
    sandbox.injectFault('shelf', { kind: 'rate-limit', retryAfterSeconds: 7 });
    sandbox.injectFault('shelf', { kind: 'unauthorized' });
    const statuses: number[] = [];
    const bodies: unknown[] = [];
    let retryAfter: string | null = null;
    for (let i = 0; i < 5; i++) {
      const response = await post('/shelf/items', i);
      statuses.push(response.status);
      bodies.push(await response.json());
      if (response.status === 429) retryAfter = response.headers.get('retry-after');
    }
    expect(statuses).toEqual([503, 503, 429, 401, 201]);
    expect(retryAfter).toBe('7');
    expect(bodies[3]).toEqual({
      fault: { status: 401, message: 'Injected authentication failure (sandbox fault)' },
    });
    expect(shelf.items).toEqual([4]);
    expect(sandbox.exchanges().map((exchange) => exchange.fault)).toEqual([
      'server-error',
      'server-error',
      'rate-limit',
      'unauthorized',
      undefined,
    ]);
  });

  it('answers an echo-rejection with a 4xx quoting the request body, as ESPs quote refused values', async () => {
    sandbox.injectFault('shelf', { kind: 'echo-rejection', status: 422 });
    const response = await post('/shelf/items', { email: 'ana@example.com', phone: '+33612345678' });
    expect(response.status).toBe(422);
    expect(await response.json()).toEqual({
      fault: {
        status: 422,
        message: 'Invalid request (sandbox fault): {"email":"ana@example.com","phone":"+33612345678"}',
      },
    });
    expect(shelf.items).toEqual([]);
    const badStatus = await post('/shelf/_sandbox/faults', { kind: 'echo-rejection', status: 500 });
    expect(badStatus.status).toBe(400);
    expect(await badStatus.json()).toEqual({ error: 'status must be a 4xx status (got 500)' });
  });

  it('aims a fault at one path prefix only', async () => {
    sandbox.injectFault('shelf', { kind: 'server-error', pathPrefix: '/items', times: 1 });
    expect((await fetch(`${root}/shelf/other`)).status).toBe(404);
    expect((await fetch(`${root}/shelf/items`)).status).toBe(500);
    expect((await fetch(`${root}/shelf/items`)).status).toBe(200);
  });

  it('holds a request under a timeout fault until the client gives up, and releases it on close', async () => {
    sandbox.injectFault('shelf', { kind: 'timeout' });
    const started = Date.now();
    const outcome = await fetch(`${root}/shelf/items`, { signal: AbortSignal.timeout(300) }).then(
      () => 'answered',
      (error: Error) => error.name,
    );
    expect(outcome).toBe('TimeoutError');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(shelf.seen).toHaveLength(0);
  });

  it('rejects a malformed fault over the control API with 400 and arms nothing', async () => {
    const response = await post('/shelf/_sandbox/faults', { kind: 'meteor' });
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({
      error:
        'Unknown fault kind "meteor"; known: server-error, rate-limit, timeout, unauthorized, echo-rejection',
    });
    const badTimes = await post('/shelf/_sandbox/faults', { kind: 'timeout', times: 0 });
    expect(await badTimes.json()).toEqual({ error: 'times must be a positive integer (got 0)' });
    const armed = await fetch(`${root}/shelf/_sandbox/faults`);
    expect(await armed.json()).toEqual({ faults: [] });
    expect((await post('/shelf/items', 1)).status).toBe(201);
  });

  it('arms faults, reads state and resets over the control API', async () => {
    const armed = await post('/shelf/_sandbox/faults', { kind: 'server-error', status: 502 });
    expect(armed.status).toBe(201);
    expect((await post('/shelf/items', 'x')).status).toBe(502);
    expect((await post('/shelf/items', 'y')).status).toBe(201);
    const state = await fetch(`${root}/shelf/_sandbox/state`);
    expect(await state.json()).toEqual({ items: ['y'] });
    expect((await post('/shelf/_sandbox/reset', {})).status).toBe(200);
    expect(shelf.items).toEqual([]);
    const unknown = await fetch(`${root}/shelf/_sandbox/teleport`, { method: 'POST' });
    expect(unknown.status).toBe(404);
  });

  it('refuses two emulators on one mount and a mount that is not a path segment', () => {
    expect(() => new EspSandbox([new ShelfEmulator(), new ShelfEmulator()])).toThrow(
      'Two emulators are mounted at "shelf"',
    );
    const odd = Object.assign(new ShelfEmulator(), { esp: 'Big Shelf' });
    expect(() => new EspSandbox([odd])).toThrow(
      'Emulator mount "Big Shelf" must be lower-case letters, digits and dashes',
    );
  });
});

/**
 * An ESP with an account configuration (the lists it has, how many requests a second it allows), a 64-byte body
 * limit, and list ids that look like names (`vip`), so it says how its paths template.
 */
class LockerEmulator implements EspEmulator {
  readonly esp = 'locker';
  readonly maxBodyBytes = 64;
  private config: { lists: string[]; perSecond: number } = { lists: ['main'], perSecond: 100 };
  members: string[] = [];

  handle(request: SandboxRequest, tools: EmulatorTools): SandboxResponse {
    const [, , list = '', , member] = request.path.split('/');
    if (!this.config.lists.includes(list)) return this.errorResponse(404, `no list ${list}`);
    if (tools.rateLimit('all', [{ requests: this.config.perSecond, perMs: 1000 }]) !== undefined) {
      return this.errorResponse(429, 'too many');
    }
    this.members.push(`${list}:${member ?? ''}`);
    return { status: 200, body: {} };
  }

  endpointTemplate(_method: string, path: string): string | undefined {
    const match = /^\/lists\/[^/]+\/members(\/[^/]+)?$/.exec(path);
    if (match === null) return undefined;
    return match[1] === undefined ? '/lists/{id}/members' : '/lists/{id}/members/{id}';
  }

  configure(config: unknown): void {
    const { lists, perSecond } = (config ?? {}) as { lists?: unknown; perSecond?: unknown };
    if (!Array.isArray(lists) || !lists.every((list) => typeof list === 'string')) {
      throw new Error('lists must be an array of list ids');
    }
    if (!Number.isInteger(perSecond) || (perSecond as number) < 1) {
      throw new Error(`perSecond must be a positive integer (got ${JSON.stringify(perSecond)})`);
    }
    this.config = { lists: lists as string[], perSecond: perSecond as number };
  }

  configuration(): unknown {
    return this.config;
  }

  errorResponse(status: number, message: string): SandboxResponse {
    return {
      status,
      headers: { 'content-type': 'application/problem+json' },
      body: { status, detail: message },
    };
  }

  state(): unknown {
    return { members: this.members };
  }

  reset(): void {
    this.members = [];
  }
}

describe('EspSandbox statistics, configuration and body limits', () => {
  let sandbox: EspSandbox;
  let locker: LockerEmulator;
  let root: string;

  beforeEach(async () => {
    locker = new LockerEmulator();
    sandbox = new EspSandbox([new ShelfEmulator(), locker]);
    root = await sandbox.listen();
  });

  afterEach(() => sandbox.close());

  const send = (method: string, path: string, body?: unknown): Promise<Response> =>
    fetch(`${root}${path}`, {
      method,
      ...(body === undefined
        ? {}
        : {
            headers: { 'content-type': 'application/json' },
            body: typeof body === 'string' ? body : JSON.stringify(body),
          }),
    });

  it('counts requests per ESP: total, by status, by endpoint template, throttled apart from injected faults', async () => {
    await send('POST', '/shelf/items', 1);
    await send('POST', '/shelf/items', 2);
    await send('POST', '/shelf/items', 3); // over the emulator's 2 a second: 429
    await send('GET', '/shelf/orders/12345');
    await send('GET', '/shelf/orders/9f8e7d6c5b4a');
    await send('DELETE', `/shelf/members/${encodeURIComponent('ann@example.com')}`);
    sandbox.injectFault('shelf', { kind: 'rate-limit' });
    sandbox.injectFault('shelf', { kind: 'server-error' });
    await send('GET', '/shelf/items');
    await send('GET', '/shelf/items');
    await send('GET', '/shelf/_sandbox/state'); // the control API is not the ESP: not counted

    const response = await send('GET', '/shelf/_sandbox/stats');
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      total: 8,
      byStatus: { '201': 2, '429': 2, '404': 3, '500': 1 },
      byEndpoint: {
        'POST /items': 3,
        'GET /orders/{id}': 2,
        'DELETE /members/{id}': 1,
        'GET /items': 2,
      },
      throttled: 2,
      throttledByEmulator: 1,
      injectedFaults: 2,
    });
    // Each ESP is counted apart.
    expect(sandbox.stats('locker')).toEqual({
      total: 0,
      byStatus: {},
      byEndpoint: {},
      throttled: 0,
      throttledByEmulator: 0,
      injectedFaults: 0,
    });
  });

  it("uses the emulator's own endpoint templates where it has them, the default elsewhere", async () => {
    await send('PUT', '/locker/lists/main/members/ann', {});
    await send('PUT', '/locker/lists/main/members/bob', {});
    await send('GET', '/locker/lists/main/members');
    await send('GET', '/locker/accounts/4242');
    expect(sandbox.stats('locker').byEndpoint).toEqual({
      'PUT /lists/{id}/members/{id}': 2,
      'GET /lists/{id}/members': 1,
      'GET /accounts/{id}': 1,
    });
  });

  it('zeroes the statistics on POST /_sandbox/reset, and keeps the configuration', async () => {
    expect((await send('PUT', '/locker/_sandbox/config', { lists: ['vip'], perSecond: 5 })).status).toBe(200);
    await send('PUT', '/locker/lists/vip/members/ann', {});
    expect(sandbox.stats('locker').total).toBe(1);
    const reset = await send('POST', '/locker/_sandbox/reset');
    expect(reset.status).toBe(200);
    expect(await (await send('GET', '/locker/_sandbox/stats')).json()).toMatchObject({
      total: 0,
      byEndpoint: {},
    });
    expect(locker.members).toEqual([]);
    expect(await (await send('GET', '/locker/_sandbox/config')).json()).toEqual({
      lists: ['vip'],
      perSecond: 5,
    });
  });

  it('configures an emulator over PUT /_sandbox/config and reads it back with GET', async () => {
    expect((await send('PUT', '/locker/lists/vip/members/ann', {})).status).toBe(404);
    const put = await send('PUT', '/locker/_sandbox/config', { lists: ['main', 'vip'], perSecond: 1 });
    expect(put.status).toBe(200);
    expect(await put.json()).toEqual({ lists: ['main', 'vip'], perSecond: 1 });
    expect((await send('PUT', '/locker/lists/vip/members/ann', {})).status).toBe(200);
    // The configured limit holds: one request a second.
    expect((await send('PUT', '/locker/lists/vip/members/bob', {})).status).toBe(429);
    const get = await send('GET', '/locker/_sandbox/config');
    expect(get.status).toBe(200);
    expect(await get.json()).toEqual({ lists: ['main', 'vip'], perSecond: 1 });
  });

  it("answers a configuration the emulator refuses with 400 and the emulator's message, and keeps the old one", async () => {
    const refused = await send('PUT', '/locker/_sandbox/config', { lists: ['main'], perSecond: 0 });
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({ error: 'perSecond must be a positive integer (got 0)' });
    const notJson = await send('PUT', '/locker/_sandbox/config', '{lists:');
    expect(notJson.status).toBe(400);
    expect(await notJson.json()).toEqual({ error: 'Body must be JSON' });
    expect(locker.configuration()).toEqual({ lists: ['main'], perSecond: 100 });
  });

  it('answers 404 for the configuration of an emulator that takes none', async () => {
    const put = await send('PUT', '/shelf/_sandbox/config', { anything: true });
    expect(put.status).toBe(404);
    expect(await put.json()).toEqual({ error: 'The shelf emulator takes no configuration' });
    const get = await send('GET', '/shelf/_sandbox/config');
    expect(get.status).toBe(404);
    expect(await get.json()).toEqual({ error: 'The shelf emulator takes no configuration' });
  });

  it("answers a body over the emulator's limit with 413 in the ESP's own error format, before the emulator", async () => {
    const body = JSON.stringify({ note: 'x'.repeat(60) }); // 71 bytes
    const response = await send('PUT', '/locker/lists/main/members/ann', body);
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toBe('application/problem+json');
    expect(await response.json()).toEqual({
      status: 413,
      detail: 'Request body is 71 bytes; the largest accepted is 64 bytes',
    });
    expect(locker.members).toEqual([]);
    // At the limit it passes.
    const atLimit = JSON.stringify({ note: 'x'.repeat(53) });
    expect(Buffer.byteLength(atLimit)).toBe(64);
    expect((await send('PUT', '/locker/lists/main/members/ann', atLimit)).status).toBe(200);
    expect(sandbox.stats('locker').byStatus).toEqual({ '413': 1, '200': 1 });
  });

  it('applies the configuration it is built with to each emulator that takes one, and names a bad one', () => {
    const configured = new LockerEmulator();
    new EspSandbox([new ShelfEmulator(), configured], {
      configuration: { locker: { lists: ['vip'], perSecond: 3 }, shelf: { ignored: true }, absent: {} },
    });
    expect(configured.configuration()).toEqual({ lists: ['vip'], perSecond: 3 });
    expect(
      () => new EspSandbox([new LockerEmulator()], { configuration: { locker: { lists: 'vip' } } }),
    ).toThrow('The locker emulator refused its configuration: lists must be an array of list ids');
  });
});
