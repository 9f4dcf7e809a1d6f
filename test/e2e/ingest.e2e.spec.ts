import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CloudEvent, emitterFor, Mode, type Message } from 'cloudevents';
import Redis from 'ioredis';
import { newWebhookSecret } from '@tessera/runtime';
import {
  deleteKeysWithPrefix,
  queuedEvents,
  signedHeaders,
  TEST_REDIS_URL,
  uniqueRedisPrefix,
} from '@tessera/testing';
import { startTessera, type TesseraProcess } from '../support/tessera-process';

// The all-in-one process as `npm start` runs it, fed by the cloudevents SDK's own emitter over real HTTP.

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
    });
  });

  afterAll(async () => {
    await tessera?.stop();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    rmSync(dataDir, { recursive: true, force: true });
  });

  /** A cloudevents SDK transport that signs each message the Standard Webhooks way before posting it. */
  const signingTransport = async (message: Message): Promise<Response> => {
    const body = String(message.body);
    const response = await fetch(`${tessera.baseUrl}/v1/sources/showroom/events`, {
      method: 'POST',
      headers: { ...(message.headers as Record<string, string>), ...signedHeaders(secret, body) },
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
