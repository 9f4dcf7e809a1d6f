import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudEvent, emitterFor, Mode, type Message } from 'cloudevents';
import Redis from 'ioredis';
import { newWebhookSecret } from '@tessera/runtime';
import {
  deleteKeysWithPrefix,
  queuedEvents,
  signedBinaryHeaders,
  signedHeaders,
  TEST_REDIS_URL,
  uniqueRedisPrefix,
} from '@tessera/testing';
import { startTessera, type TesseraProcess } from '../support/tessera-process';

// The all-in-one process as `npm start` runs it, fed by the cloudevents SDK's own emitter over real HTTP.

const HEADERS_TIMEOUT_MS = 2_000;
const REQUEST_TIMEOUT_MS = 3_000;

describe('ingest, end to end', () => {
  const secret = newWebhookSecret();
  const masterKey = randomBytes(32);
  const prefix = uniqueRedisPrefix();
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-e2e-'));
  const redis = new Redis(TEST_REDIS_URL);
  let tessera: TesseraProcess;

  beforeAll(async () => {
    const workspaceFile = join(dataDir, 'workspace.json');
    writeFileSync(
      workspaceFile,
      JSON.stringify({
        brands: [{ id: 'flannels', name: 'Flannels', defaultCountry: 'GB' }],
        sources: [{ id: 'showroom', brand: 'flannels', secrets: [secret] }],
      }),
    );
    tessera = await startTessera({
      REDIS_URL: TEST_REDIS_URL,
      TESSERA_REDIS_PREFIX: prefix,
      TESSERA_DATA_DIR: dataDir,
      TESSERA_WORKSPACE_FILE: workspaceFile,
      TESSERA_MASTER_KEY: masterKey.toString('base64'),
      TESSERA_DEMO: 'off',
      // Short bounds, so that the slow-client test below sees them act within seconds.
      TESSERA_HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
      TESSERA_HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
    });
  });

  afterAll(async () => {
    await tessera?.stop();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /**
   * A cloudevents SDK transport that signs each message the Standard Webhooks way before posting it: the body
   * in structured mode; in binary mode the ce-* headers and Content-Type with the body (docs/ingest.md).
   */
  const signingTransport = async (message: Message): Promise<Response> => {
    const body = String(message.body);
    const headers = message.headers as Record<string, string>;
    const binary = Object.keys(headers).some((name) => name.toLowerCase() === 'ce-specversion');
    const response = await fetch(`${tessera.baseUrl}/v1/sources/showroom/events`, {
      method: 'POST',
      headers: binary
        ? signedBinaryHeaders(secret, headers, body)
        : { ...headers, ...signedHeaders(secret, body) },
      body,
    });
    if (response.status !== 202) throw new Error(`${response.status} ${await response.text()}`);
    return response;
  };

  const event = (id: string) =>
    new CloudEvent({
      id,
      source: 'https://showroom.example.com/rooms/7',
      type: 'showroom.viewed_3d_model',
      datacontenttype: 'application/json',
      data: { anonymous_id: 'anon-7', showroom_id: 'room-7', product_id: 'sneaker-1', duration_ms: 4200 },
    });

  const queued = () => queuedEvents(redis, prefix, masterKey);

  it.each([
    ['binary', Mode.BINARY],
    ['structured', Mode.STRUCTURED],
  ])('%s mode: an event sent twice through the SDK emitter is queued exactly once', async (name, mode) => {
    const emit = emitterFor(signingTransport, { mode });
    const id = `view-${name}`;
    const first = (await emit(event(id))) as Response;
    expect(await first.json()).toEqual({ results: [{ id, status: 'accepted' }] });
    const retry = (await emit(event(id))) as Response;
    expect(await retry.json()).toEqual({ results: [{ id, status: 'duplicate' }] });
    const matching = (await queued()).filter((queuedEvent) => queuedEvent.event.id === id);
    expect(matching).toHaveLength(1);
    expect(matching[0]).toMatchObject({
      sourceId: 'showroom',
      brand: 'flannels',
      event: {
        type: 'showroom.viewed_3d_model',
        source: 'https://showroom.example.com/rooms/7',
        data: { product_id: 'sneaker-1' },
      },
    });
  });

  it('a batch with one bad event queues the good ones and reports the bad one by JSON Pointer', async () => {
    const good = (id: string) => ({ ...event(id).toJSON(), id });
    const bad = { ...event('bad-1').toJSON(), data: { anonymous_id: 'anon-7', showroom_id: 'room-7' } };
    const body = JSON.stringify([good('batch-1'), bad, good('batch-2')]);
    const response = await fetch(`${tessera.baseUrl}/v1/sources/showroom/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents-batch+json', ...signedHeaders(secret, body) },
      body,
    });
    expect(response.status).toBe(207);
    expect(await response.json()).toEqual({
      results: [
        { id: 'batch-1', status: 'accepted' },
        { id: 'bad-1', status: 'rejected', errors: [{ path: '/data/product_id', message: 'is required' }] },
        { id: 'batch-2', status: 'accepted' },
      ],
    });
    const ids = (await queued()).map((queuedEvent) => queuedEvent.event.id);
    expect(ids.filter((id) => id.startsWith('batch-'))).toEqual(['batch-1', 'batch-2']);
    expect(ids).not.toContain('bad-1');
  });

  it('binary mode: a request signed over the body alone is refused, saying so, and nothing is queued', async () => {
    const emit = emitterFor(
      async (message: Message) => {
        const body = String(message.body);
        return fetch(`${tessera.baseUrl}/v1/sources/showroom/events`, {
          method: 'POST',
          headers: { ...(message.headers as Record<string, string>), ...signedHeaders(secret, body) },
          body,
        });
      },
      { mode: Mode.BINARY },
    );
    const response = (await emit(event('view-body-alone'))) as Response;
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({
      error: 'invalid_signature',
      message:
        'binary mode: webhook-signature covers the body alone; it must cover the ce-* headers and ' +
        'Content-Type too (sign the tessera-cloudevents-binary-v1 form, see docs/ingest.md)',
    });
    expect((await queued()).filter((queuedEvent) => queuedEvent.event.id === 'view-body-alone')).toEqual([]);
  });

  describe('413: a body over the limit is payload_too_large on every route that takes one', () => {
    const big = Buffer.alloc(1024 * 1024 + 1, 'a');
    const routes: Array<[string, string]> = [
      ['ingest', '/v1/sources/showroom/events'],
      ['ESP webhooks', '/v1/inbound/klaviyo'],
      ['the console API', '/v1/brands'],
    ];

    it.each(routes)('%s (%s), with Content-Length and chunked', async (_name, path) => {
      const before = (await queued()).length;
      const headers = { 'content-type': 'application/json', ...signedHeaders(secret, big) };
      const answers = [
        await fetch(`${tessera.baseUrl}${path}`, { method: 'POST', headers, body: big }),
        await fetch(`${tessera.baseUrl}${path}`, {
          method: 'POST',
          headers,
          body: new Blob([big]).stream(),
          duplex: 'half',
        } as RequestInit),
      ];
      for (const response of answers) {
        expect(response.status).toBe(413);
        expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
        expect(await response.json()).toEqual({
          error: 'payload_too_large',
          message: 'a request may carry at most 1 MiB',
        });
      }
      expect((await queued()).length).toBe(before);
    });
  });

  it('closes slow clients within the configured bounds (408), while normal requests pass', async () => {
    const started = Date.now();
    const slowClient = () =>
      new Promise<{ answer: string; closedAfterMs: number }>((resolve) => {
        const socket = connect(Number(new URL(tessera.baseUrl).port), '127.0.0.1');
        let answer = '';
        socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
        socket.on('error', () => undefined);
        socket.on('connect', () => {
          socket.write(
            'POST /v1/sources/showroom/events HTTP/1.1\r\nHost: tessera\r\n' +
              'Content-Type: application/cloudevents+json\r\nContent-Length: 1000\r\n\r\n',
          );
          // One byte every half second: the request would take over eight minutes to arrive.
          const timer = setInterval(() => socket.writable && socket.write('a'), 500);
          socket.on('close', () => {
            clearInterval(timer);
            resolve({ answer, closedAfterMs: Date.now() - started });
          });
        });
      });
    const slow = Array.from({ length: 5 }, slowClient);
    const emit = emitterFor(signingTransport, { mode: Mode.STRUCTURED });
    const normal = (await emit(event('view-beside-slow-clients'))) as Response;
    expect(await normal.json()).toEqual({
      results: [{ id: 'view-beside-slow-clients', status: 'accepted' }],
    });
    for (const { answer, closedAfterMs } of await Promise.all(slow)) {
      expect(answer).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      expect(answer.split('\r\n\r\n')[1]).toBe(
        JSON.stringify({
          error: 'request_timeout',
          message: 'the request did not arrive in time: headers within 2 s, all of it within 3 s',
        }),
      );
      // Node checks the bounds every second; the rest is slack for a loaded machine.
      expect(closedAfterMs).toBeGreaterThanOrEqual(REQUEST_TIMEOUT_MS - 100);
      expect(closedAfterMs).toBeLessThan(REQUEST_TIMEOUT_MS + 3_000);
    }
  });

  it('serves the catalog and health over real HTTP, and prints the URLs it serves', async () => {
    const catalog = (await (await fetch(`${tessera.baseUrl}/v1/catalog`)).json()) as { types: unknown[] };
    expect(catalog.types).toHaveLength(16);
    expect(await (await fetch(`${tessera.baseUrl}/readyz`)).json()).toEqual({
      status: 'ready',
      checks: { redis: 'up', store: 'up' },
    });
    expect(tessera.output()).toMatch(/store of record\s+PGlite in \S+pglite\n/);
    for (const path of ['/v1/sources/{sourceId}/events', '/v1/catalog', '/healthz', '/readyz', '/metrics']) {
      expect(tessera.output()).toContain(`${tessera.baseUrl}${path}`);
    }
  });

  it('drains and exits 0 on SIGTERM', async () => {
    expect(await tessera.stop()).toBe(0);
  });
});
