import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { AuthError, DeliveryError, RejectedError, RetryableError } from './delivery-errors';
import { AllowedDestinationHosts, DestinationHostPolicy } from './destination-hosts';
import { DestinationHttpClient } from './http-client';
import { ManualClock } from './retry-policy';

type Handler = (req: IncomingMessage, body: string, res: ServerResponse) => void;

/** The local servers of these tests stand in for the ESP: the deployment allows 127.0.0.1 and localhost. */
const hosts = new DestinationHostPolicy(
  { name: 'Test ESP', hosts: ['api.test.invalid'] },
  new AllowedDestinationHosts(['127.0.0.1', 'localhost']),
);

describe('DestinationHttpClient against a real local server', () => {
  let server: Server;
  let port: number;
  let handler: Handler;
  const seen: { method?: string; url?: string; headers: IncomingMessage['headers']; body: string }[] = [];

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        seen.push({ method: req.method, url: req.url, headers: req.headers, body });
        handler(req, body, res);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  afterAll(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    seen.length = 0;
  });

  const client = (timeoutMs = 2000) =>
    new DestinationHttpClient({
      baseUrl: `http://127.0.0.1:${port}/api`,
      hosts,
      headers: { authorization: 'Klaviyo-API-Key pk_test' },
      timeoutMs,
      clock: new ManualClock(0),
    });

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

  const failure = async (promise: Promise<unknown>): Promise<DeliveryError> => {
    try {
      await promise;
    } catch (error) {
      if (error instanceof DeliveryError) return error;
      throw error;
    }
    throw new Error('expected the request to fail');
  };

  it('sends JSON with the default headers and parses a 2xx JSON response', async () => {
    handler = (_req, _body, res) => json(res, 202, { id: 'job-1' });
    const response = await client().post<{ id: string }>(
      '/profile-import',
      { email: 'a@b.c' },
      { query: { x: 1 } },
    );
    expect(response.status).toBe(202);
    expect(response.body).toEqual({ id: 'job-1' });
    expect(seen[0].method).toBe('POST');
    expect(seen[0].url).toBe('/api/profile-import?x=1');
    expect(seen[0].headers['authorization']).toBe('Klaviyo-API-Key pk_test');
    expect(seen[0].headers['content-type']).toBe('application/json');
    expect(JSON.parse(seen[0].body)).toEqual({ email: 'a@b.c' });
  });

  it('throws a RetryableError honouring Retry-After on 429', async () => {
    handler = (_req, _body, res) => json(res, 429, { message: 'slow down' }, { 'retry-after': '7' });
    const error = await failure(client().get('/lists'));
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.retryAfterMs).toBe(7000);
    expect(error.message).toBe('HTTP 429: slow down (retry after 7000 ms)');
  });

  it('throws a RetryableError on 503', async () => {
    handler = (_req, _body, res) => {
      res.writeHead(503);
      res.end('unavailable');
    };
    const error = await failure(client().get('/lists'));
    expect(error.kind).toBe('retryable');
    expect(error.status).toBe(503);
    expect(error.body).toBe('unavailable');
  });

  it('throws an AuthError on 401', async () => {
    handler = (_req, _body, res) =>
      json(res, 401, { errors: [{ detail: 'Incorrect authentication credentials.' }] });
    const error = await failure(client().get('/accounts'));
    expect(error).toBeInstanceOf(AuthError);
    expect(error.message).toBe('HTTP 401: credentials refused: Incorrect authentication credentials.');
  });

  it('throws a RejectedError with the ESP message on 400 and keeps at most 2 KB of body', async () => {
    handler = (_req, _body, res) =>
      json(res, 400, { detail: 'Invalid email address', padding: 'p'.repeat(4000) });
    const error = await failure(client().post('/profile-import', {}));
    expect(error).toBeInstanceOf(RejectedError);
    expect(error.message).toBe('HTTP 400: Invalid email address');
    expect(error.body).toHaveLength(2048);
  });

  it('turns a timeout into a RetryableError', async () => {
    handler = (_req, _body, res) => {
      setTimeout(() => json(res, 200, {}), 1000).unref();
    };
    const error = await failure(client(50).get('/slow'));
    expect(error).toBeInstanceOf(RetryableError);
    expect(error.message).toBe('Request timed out after 50 ms: GET /slow');
  });

  it('follows a same-origin redirect', async () => {
    handler = (req, _body, res) => {
      if (req.url === '/api/old') {
        res.writeHead(307, { location: '/api/new' });
        res.end();
      } else json(res, 200, { at: req.url });
    };
    const response = await client().get('/old');
    expect(response.body).toEqual({ at: '/api/new' });
    expect(seen.map((s) => s.url)).toEqual(['/api/old', '/api/new']);
  });

  it('refuses a redirect to another host', async () => {
    handler = (_req, _body, res) => {
      res.writeHead(302, { location: `http://localhost:${port}/steal` });
      res.end();
    };
    const error = await failure(client().get('/old'));
    expect(error).toBeInstanceOf(RejectedError);
    expect(error.message).toBe(
      `Refused redirect to another host: localhost:${port} (only same-origin redirects are followed)`,
    );
    expect(seen.map((s) => s.url)).toEqual(['/api/old']);
  });

  it('turns a refused connection into a RetryableError', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedPort = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const error = await failure(
      new DestinationHttpClient({ baseUrl: `http://127.0.0.1:${closedPort}`, hosts }).get('/'),
    );
    expect(error.kind).toBe('retryable');
    expect(error.message).toMatch(/^Network error on GET \/: /);
  });
});
