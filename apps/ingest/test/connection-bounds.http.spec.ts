import { connect, type Socket } from 'node:net';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { adoptStoredWorkspace } from '@tessera/destination-registry';
import { createHttpApp } from '@tessera/nest-platform';
import {
  createTestRuntime,
  queuedEvents,
  signedHeaders,
  testWorkspace,
  type TestRuntime,
} from '@tessera/testing';
import { IngestModule } from '../src/ingest.module';

// The HTTP server's own bounds, over real sockets: a client that sends its request too slowly (slow-loris),
// never sends one, or sends headers too large is answered in the documented format and disconnected within
// the configured bounds, while normal requests keep passing.

const HEADERS_TIMEOUT_MS = 1_000;
const REQUEST_TIMEOUT_MS = 2_000;
/** Node checks the bounds every 500 ms here (half the headers' bound); the rest is a loaded machine's slack. */
const GRACE_MS = 2_500;

interface RawExchange {
  status: number;
  headers: string;
  body: string;
  closedAfterMs: number;
}

/** Opens a raw connection, lets `drive` write to it, and resolves with what came back once it closes. */
function rawExchange(port: number, drive: (socket: Socket) => void): Promise<RawExchange> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.on('data', (chunk: Buffer) => (received += chunk.toString()));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      const [head, body = ''] = received.split('\r\n\r\n', 2);
      resolve({
        status: Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0),
        headers: head.toLowerCase(),
        body,
        closedAfterMs: Date.now() - started,
      });
    });
    socket.on('connect', () => drive(socket));
  });
}

/** Writes one byte every `everyMs` until the server closes the connection. */
function trickle(socket: Socket, everyMs: number): void {
  const timer = setInterval(() => {
    if (socket.writable) socket.write('a');
  }, everyMs);
  socket.on('close', () => clearInterval(timer));
}

describe('HTTP connection bounds', () => {
  let t: TestRuntime;
  let app: NestFastifyApplication;
  let port: number;
  const workspace = testWorkspace();
  const secret = workspace.sources[0].secrets[0];

  beforeAll(async () => {
    t = await createTestRuntime(workspace, {
      TESSERA_HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      TESSERA_HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
      TESSERA_HTTP_MAX_HEADER_BYTES: '8192',
    });
    // As a process starts: the workspace goes to the store, where the intake reloads its sources from.
    t.runtime.workspace = await adoptStoredWorkspace(t.runtime);
    app = await createHttpApp(t.runtime, [IngestModule]);
    await app.listen({ port: 0, host: '127.0.0.1' });
    const address = app.getHttpServer().address();
    port = typeof address === 'object' && address !== null ? address.port : 0;
  });

  afterAll(async () => {
    await app.close();
    await t.cleanup();
  });

  const TIMEOUT_BODY = {
    error: 'request_timeout',
    message: 'the request did not arrive in time: headers within 1 s, all of it within 2 s',
  };

  /** A normal signed request over HTTP, with its own id: it must pass while slow clients are held off. */
  async function postEvent(id: string): Promise<{ status: number; body: unknown }> {
    const body = JSON.stringify({
      specversion: '1.0',
      id,
      source: 'https://loyalty.example.com',
      type: 'points.updated',
      data: { customer_id: 'C123456', delta: 120, new_balance: 1840 },
    });
    const response = await fetch(`http://127.0.0.1:${port}/v1/sources/loyalty/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents+json', ...signedHeaders(secret, body) },
      body,
    });
    return { status: response.status, body: await response.json() };
  }

  const queuedIds = async () =>
    (await queuedEvents(t.redis, t.runtime.settings.redisPrefix, t.runtime.masterKey)).map((e) => e.event.id);

  it('408 and a closed connection for five clients trickling a body a byte at a time; normal requests pass meanwhile', async () => {
    const head =
      'POST /v1/sources/loyalty/events HTTP/1.1\r\nHost: ingest\r\n' +
      'Content-Type: application/cloudevents+json\r\nContent-Length: 1000\r\n\r\n';
    const slow = Array.from({ length: 5 }, () =>
      rawExchange(port, (socket) => {
        socket.write(head);
        trickle(socket, 250);
      }),
    );
    const normal = await postEvent('evt-while-slow');
    const exchanges = await Promise.all(slow);

    expect(normal).toEqual({
      status: 202,
      body: { results: [{ id: 'evt-while-slow', status: 'accepted' }] },
    });
    for (const exchange of exchanges) {
      expect(exchange.status).toBe(408);
      expect(exchange.headers).toContain('content-type: application/json; charset=utf-8');
      expect(exchange.headers).toContain('connection: close');
      expect(JSON.parse(exchange.body)).toEqual(TIMEOUT_BODY);
      expect(exchange.closedAfterMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
      expect(exchange.closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS + GRACE_MS);
    }
    expect(await queuedIds()).toEqual(['evt-while-slow']);
  });

  it('408 and a closed connection for a client trickling its headers, and for one that sends nothing', async () => {
    const [slowHeaders, silent] = await Promise.all([
      rawExchange(port, (socket) => {
        socket.write('POST /v1/sources/loyalty/events HTTP/1.1\r\nHost: ingest\r\nX-Slow: ');
        trickle(socket, 100);
      }),
      rawExchange(port, () => undefined),
    ]);
    for (const exchange of [slowHeaders, silent]) {
      expect(exchange.status).toBe(408);
      expect(JSON.parse(exchange.body)).toEqual(TIMEOUT_BODY);
      expect(exchange.closedAfterMs).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 100);
      expect(exchange.closedAfterMs).toBeLessThan(HEADERS_TIMEOUT_MS + GRACE_MS);
    }
  });

  it('431 and a closed connection for headers over the bound', async () => {
    const exchange = await rawExchange(port, (socket) =>
      socket.write(`GET /healthz HTTP/1.1\r\nHost: ingest\r\nX-Big: ${'a'.repeat(9000)}\r\n\r\n`),
    );
    expect(exchange.status).toBe(431);
    expect(exchange.headers).toContain('content-type: application/json; charset=utf-8');
    expect(JSON.parse(exchange.body)).toEqual({
      error: 'headers_too_large',
      message: 'the request line and headers may take at most 8 KiB',
    });
  });

  it('a kept-alive connection idle past the headers bound still serves the next request', async () => {
    expect((await postEvent('evt-keepalive-1')).status).toBe(202);
    await new Promise((resolve) => setTimeout(resolve, HEADERS_TIMEOUT_MS + 500));
    expect((await postEvent('evt-keepalive-2')).status).toBe(202);
  });

  it('413 in the documented format over a real connection, with and without Content-Length', async () => {
    const big = Buffer.alloc(1024 * 1024 + 1, 'a');
    const withLength = await fetch(`http://127.0.0.1:${port}/v1/sources/loyalty/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents-batch+json', ...signedHeaders(secret, big) },
      body: big,
    });
    const chunked = await fetch(`http://127.0.0.1:${port}/v1/sources/loyalty/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents-batch+json', ...signedHeaders(secret, big) },
      body: new Blob([big]).stream(),
      duplex: 'half',
    } as RequestInit);
    for (const response of [withLength, chunked]) {
      expect(response.status).toBe(413);
      expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
      expect(await response.json()).toEqual({
        error: 'payload_too_large',
        message: 'a request may carry at most 1 MiB',
      });
    }
  });
});
