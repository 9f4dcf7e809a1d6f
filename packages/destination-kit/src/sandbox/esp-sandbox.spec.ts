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
      error: 'Unknown fault kind "meteor"; known: server-error, rate-limit, timeout, unauthorized',
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
