import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { KeyRing } from '@tessera/crypto';
import { adoptStoredWorkspace } from '@tessera/destination-registry';
import { createHttpApp } from '@tessera/nest-platform';
import { JobQueue, QUEUE_PAYLOAD_KEY_PURPOSE } from '@tessera/queues';
import {
  createTestRuntime,
  queuedEvents,
  signedBinaryHeaders,
  signedHeaders,
  testWorkspace,
  type TestRuntime,
} from '@tessera/testing';
import { IngestModule } from '../src/ingest.module';

// The intake over real HTTP handling (Fastify's inject) and the real Redis: every status code a sender can
// get, its exact body, and what did (or did not) reach the resolve queue.

const pointsUpdated = (id: string, data: Record<string, unknown> = {}) => ({
  specversion: '1.0',
  id,
  source: 'https://loyalty.example.com',
  type: 'points.updated',
  data: {
    customer_id: 'C123456',
    email: 'user@example.com',
    delta: 120,
    new_balance: 1840,
    reason: 'purchase',
    ...data,
  },
});

describe('POST /v1/sources/{sourceId}/events', () => {
  let t: TestRuntime;
  let app: NestFastifyApplication;
  const workspace = testWorkspace();
  workspace.sources.push({ id: 'slow', brand: 'sd', secrets: workspace.sources[1].secrets, rateLimit: 2 });
  const loyaltySecret = workspace.sources[0].secrets[0];

  beforeAll(async () => {
    t = await createTestRuntime(workspace);
    // As a process starts: the workspace goes to the store, which the intake reloads its sources from (an
    // empty store would take them away a moment after start).
    t.runtime.workspace = await adoptStoredWorkspace(t.runtime);
    app = await createHttpApp(t.runtime, [IngestModule]);
    await app.init();
    await app.getHttpAdapter().getInstance().ready();
  });

  afterAll(async () => {
    await app.close();
    await t.cleanup();
  });

  const queued = () => queuedEvents(t.redis, t.runtime.settings.redisPrefix, t.runtime.masterKey);

  async function post(
    body: string | Buffer,
    contentType: string | undefined,
    options: {
      source?: string;
      secret?: string;
      headers?: Record<string, string>;
      webhookId?: string;
      at?: Date;
    } = {},
  ) {
    const headers: Record<string, string> = {
      ...signedHeaders(options.secret ?? loyaltySecret, body, {
        webhookId: options.webhookId,
        at: options.at,
      }),
      ...options.headers,
    };
    if (contentType !== undefined) headers['content-type'] = contentType;
    const response = await app.inject({
      method: 'POST',
      url: `/v1/sources/${options.source ?? 'loyalty'}/events`,
      headers,
      payload: body,
    });
    return {
      status: response.statusCode,
      headers: response.headers,
      body: response.json() as Record<string, unknown>,
    };
  }

  it('202: a structured event is queued once, sealed, with its source and brand', async () => {
    const before = (await queued()).length;
    const response = await post(
      JSON.stringify(pointsUpdated('evt-structured')),
      'application/cloudevents+json',
    );
    expect(response).toMatchObject({
      status: 202,
      body: { results: [{ id: 'evt-structured', status: 'accepted' }] },
    });
    const events = await queued();
    expect(events).toHaveLength(before + 1);
    expect(events.at(-1)).toMatchObject({
      sourceId: 'loyalty',
      brand: 'sd',
      event: { id: 'evt-structured', type: 'points.updated', data: { delta: 120, new_balance: 1840 } },
    });
    const raw = await t.redis.keys(`${t.runtime.settings.redisPrefix}:resolve:*`);
    const hashes = await Promise.all(
      raw.filter((key) => /:resolve:events-/.test(key)).map((key) => t.redis.hgetall(key)),
    );
    expect(JSON.stringify(hashes)).not.toContain('user@example.com');
  });

  it('202: a padded email and phone are accepted, trimmed (issue 19, item 9)', async () => {
    const before = (await queued()).length;
    const response = await post(
      JSON.stringify(
        pointsUpdated('evt-padded', { email: ' Jane.Doe@Example.COM ', phone: ' +44 7700 900123 ' }),
      ),
      'application/cloudevents+json',
    );
    expect(response).toMatchObject({
      status: 202,
      body: { results: [{ id: 'evt-padded', status: 'accepted' }] },
    });
    const events = await queued();
    expect(events).toHaveLength(before + 1);
    expect(events.at(-1)).toMatchObject({
      event: { id: 'evt-padded', data: { email: 'Jane.Doe@Example.COM', phone: '+44 7700 900123' } },
    });
  });

  it('202: a loyalty webhook is mapped through the typeMap', async () => {
    const body = JSON.stringify({
      event: 'points_earned',
      customer_id: 'C123456',
      email: 'user@example.com',
      timestamp: '2026-11-01T10:00:00Z',
      payload: { delta: -50, new_balance: 1790 },
      meta: { source: 'loyalty-platform', request_id: 'req-42' },
    });
    const response = await post(body, 'application/json');
    expect(response).toMatchObject({
      status: 202,
      body: { results: [{ id: 'req-42', status: 'accepted' }] },
    });
    expect((await queued()).find((e) => e.event.id === 'req-42')).toMatchObject({
      sourceType: 'points_earned',
      event: {
        type: 'points.updated',
        source: 'loyalty-platform',
        time: '2026-11-01T10:00:00Z',
        data: { customer_id: 'C123456', delta: -50 },
      },
    });
  });

  /** A binary-mode request: the attributes in ce-* headers, signed with the body in the documented form. */
  async function postBinary(headers: Record<string, string>, data: string) {
    const response = await app.inject({
      method: 'POST',
      url: '/v1/sources/loyalty/events',
      headers: signedBinaryHeaders(loyaltySecret, { 'content-type': 'application/json', ...headers }, data),
      payload: data,
    });
    return { status: response.statusCode, body: response.json() as Record<string, unknown> };
  }

  const binaryAttributes = (id: string, type = 'points.updated') => ({
    'ce-specversion': '1.0',
    'ce-id': id,
    'ce-source': '/pos/store-9',
    'ce-type': type,
  });

  it('202: binary mode reads the ce-* headers, signed with the body', async () => {
    const data = JSON.stringify(pointsUpdated('ignored').data);
    const response = await postBinary(binaryAttributes('evt-binary'), data);
    expect(response).toMatchObject({
      status: 202,
      body: { results: [{ id: 'evt-binary', status: 'accepted' }] },
    });
    expect((await queued()).find((e) => e.event.id === 'evt-binary')?.event.source).toBe('/pos/store-9');
  });

  describe('binary mode trusts no attribute outside the signature', () => {
    const data = JSON.stringify(pointsUpdated('ignored').data);

    // Sent to the pos source, so that the rejection stays out of the loyalty source's counts checked below.
    it('401: a refused request replayed with its ce-type edited is refused again, and nothing is queued', async () => {
      const signed = signedBinaryHeaders(
        workspace.sources[1].secrets[0],
        { 'content-type': 'application/json', ...binaryAttributes('evt-replayed', 'points.earned') },
        data,
      );
      const send = (headers: Record<string, string>) =>
        app.inject({ method: 'POST', url: '/v1/sources/pos/events', headers, payload: data });
      const refused = await send(signed);
      expect(refused.statusCode).toBe(400);
      expect(refused.json()).toEqual({
        results: [
          {
            id: 'evt-replayed',
            status: 'rejected',
            errors: [
              {
                path: '/type',
                message:
                  'unknown event type "points.earned": use a catalog type (GET /v1/catalog) or map it in ' +
                  "the source's typeMap",
              },
            ],
          },
        ],
      });
      const replayed = await send({ ...signed, 'ce-type': 'points.updated' });
      expect(replayed.statusCode).toBe(401);
      expect(replayed.json()).toEqual({
        error: 'invalid_signature',
        message:
          'webhook-signature does not match the ce-* headers, Content-Type and body ' +
          '(tessera-cloudevents-binary-v1) for any of this source’s secrets',
      });
      expect((await queued()).filter((e) => e.event.id === 'evt-replayed')).toEqual([]);
    });

    it('401: a binary request signed over the body alone is refused, saying so, and nothing is queued', async () => {
      const response = await post(data, 'application/json', { headers: binaryAttributes('evt-body-alone') });
      expect(response).toEqual({
        status: 401,
        headers: expect.any(Object),
        body: {
          error: 'invalid_signature',
          message:
            'binary mode: webhook-signature covers the body alone; it must cover the ce-* headers and ' +
            'Content-Type too (sign the tessera-cloudevents-binary-v1 form, see docs/ingest.md)',
        },
      });
      expect((await queued()).filter((e) => e.event.id === 'evt-body-alone')).toEqual([]);
    });
  });

  it('207: a batch with one bad event queues the good ones and points at the bad field', async () => {
    const before = (await queued()).length;
    const batch = [
      pointsUpdated('evt-b1'),
      pointsUpdated('evt-b2', { delta: 'lots' }),
      pointsUpdated('evt-b3'),
    ];
    const response = await post(JSON.stringify(batch), 'application/cloudevents-batch+json');
    expect(response.status).toBe(207);
    expect(response.body).toEqual({
      results: [
        { id: 'evt-b1', status: 'accepted' },
        { id: 'evt-b2', status: 'rejected', errors: [{ path: '/data/delta', message: 'must be integer' }] },
        { id: 'evt-b3', status: 'accepted' },
      ],
    });
    const ids = (await queued()).slice(before).map((e) => e.event.id);
    expect(ids).toEqual(['evt-b1', 'evt-b3']);
  });

  it('2xx duplicate: a repeated event (new webhook-id) and a repeated webhook-id are not queued again', async () => {
    const body = JSON.stringify(pointsUpdated('evt-dup'));
    expect((await post(body, 'application/cloudevents+json', { webhookId: 'msg-dup-1' })).status).toBe(202);
    const count = (await queued()).length;
    const again = await post(body, 'application/cloudevents+json', { webhookId: 'msg-dup-2' });
    expect(again).toMatchObject({ status: 202, body: { results: [{ id: 'evt-dup', status: 'duplicate' }] } });
    // Same webhook-id, different event: the request is a retry, its events are duplicates.
    const retried = await post(
      JSON.stringify(pointsUpdated('evt-dup-other')),
      'application/cloudevents+json',
      { webhookId: 'msg-dup-1' },
    );
    expect(retried).toMatchObject({
      status: 202,
      body: { results: [{ id: 'evt-dup-other', status: 'duplicate' }] },
    });
    expect((await queued()).length).toBe(count);
  });

  describe('nothing is queued when the request is refused', () => {
    let before: number;
    beforeEach(async () => {
      before = (await queued()).length;
    });
    afterEach(async () => {
      expect((await queued()).length).toBe(before);
    });

    it('400: every event rejected, with pointers', async () => {
      const { id: _id, ...withoutId } = pointsUpdated('x');
      const batch = [
        withoutId,
        { ...pointsUpdated('evt-unknown'), type: 'points.exploded' },
        { ...pointsUpdated('evt-split'), type: 'membership.split' },
      ];
      const response = await post(JSON.stringify(batch), 'application/cloudevents-batch+json');
      expect(response).toEqual({
        status: 400,
        headers: expect.anything(),
        body: {
          results: [
            { id: null, status: 'rejected', errors: [{ path: '/id', message: 'is required' }] },
            {
              id: 'evt-unknown',
              status: 'rejected',
              errors: [
                {
                  path: '/type',
                  message: `unknown event type "points.exploded": use a catalog type (GET /v1/catalog) or map it in the source's typeMap`,
                },
              ],
            },
            {
              id: 'evt-split',
              status: 'rejected',
              errors: [
                {
                  path: '/type',
                  message: 'membership.split is emitted by Tessera itself; sources cannot send it',
                },
              ],
            },
          ],
        },
      });
    });

    it('400: a body that is not JSON', async () => {
      const response = await post('{"specversion":', 'application/cloudevents+json');
      expect(response.status).toBe(400);
      expect(response.body.error).toBe('invalid_json');
      expect(String(response.body.message)).toMatch(/^the body is not valid JSON: /);
    });

    it('400: a loyalty webhook without request_id is rejected, never given an id', async () => {
      const body = JSON.stringify({
        event: 'points_earned',
        customer_id: 'C1',
        payload: { delta: 1, new_balance: 1 },
        meta: { source: 'x' },
      });
      expect(await post(body, 'application/json')).toMatchObject({
        status: 400,
        body: {
          results: [
            {
              id: null,
              status: 'rejected',
              errors: [{ path: '/meta/request_id', message: 'is required: it is the event id' }],
            },
          ],
        },
      });
    });

    it.each([
      [
        'no signature',
        { headers: { 'webhook-signature': '' } },
        'missing webhook-signature header (Standard Webhooks signature)',
      ],
      [
        'the wrong secret',
        { secret: workspace.sources[1].secrets[0] },
        'webhook-signature does not match the body for any of this source’s secrets',
      ],
      [
        'a stale timestamp',
        { at: new Date(Date.now() - 6 * 60_000) },
        'webhook-timestamp is more than 5 minutes away from the current time',
      ],
    ])('401: %s', async (_name, options, message) => {
      const response = await post(
        JSON.stringify(pointsUpdated('evt-401')),
        'application/cloudevents+json',
        options,
      );
      expect(response).toMatchObject({ status: 401, body: { error: 'invalid_signature', message } });
    });

    it('401: a tampered body', async () => {
      const body = JSON.stringify(pointsUpdated('evt-tampered'));
      const headers = signedHeaders(loyaltySecret, body);
      const response = await app.inject({
        method: 'POST',
        url: '/v1/sources/loyalty/events',
        headers: { ...headers, 'content-type': 'application/cloudevents+json' },
        payload: body.replace('1840', '9999'),
      });
      expect(response.statusCode).toBe(401);
      expect(response.json()).toEqual({
        error: 'invalid_signature',
        message: 'webhook-signature does not match the body for any of this source’s secrets',
      });
    });

    it('404: an unknown source', async () => {
      const response = await post(JSON.stringify(pointsUpdated('evt-404')), 'application/cloudevents+json', {
        source: 'nope',
      });
      expect(response).toMatchObject({
        status: 404,
        body: { error: 'unknown_source', message: 'no source "nope" is registered' },
      });
    });

    it('413: an event over 64 KiB', async () => {
      const response = await post(
        JSON.stringify(pointsUpdated('evt-big', { reason: 'x'.repeat(70_000) })),
        'application/cloudevents+json',
      );
      expect(response).toMatchObject({
        status: 413,
        body: { error: 'event_too_large', message: 'an event may be at most 64 KiB' },
      });
    });

    it('413: a batch over 1,000 events', async () => {
      const batch = Array.from({ length: 1001 }, (_, i) => ({
        specversion: '1.0',
        id: `e${i}`,
        source: 's',
        type: 'points.updated',
        data: {},
      }));
      const response = await post(JSON.stringify(batch), 'application/cloudevents-batch+json');
      expect(response).toMatchObject({
        status: 413,
        body: { error: 'batch_too_large', message: 'a batch may hold at most 1000 events (got 1001)' },
      });
    });

    it('413: a request over 1 MiB', async () => {
      const response = await post(Buffer.alloc(1024 * 1024 + 1, 'a'), 'application/cloudevents-batch+json');
      expect(response).toMatchObject({
        status: 413,
        body: { error: 'payload_too_large', message: 'a request may carry at most 1 MiB' },
      });
    });

    it('415: an unknown content type, and none at all', async () => {
      const body = JSON.stringify(pointsUpdated('evt-415'));
      const wrong = await post(body, 'text/plain');
      expect(wrong.status).toBe(415);
      expect(wrong.body.error).toBe('unsupported_media_type');
      expect(String(wrong.body.message)).toMatch(/^Content-Type text\/plain is not accepted/);
      expect(await post(body, undefined)).toMatchObject({
        status: 415,
        body: { error: 'unsupported_media_type', message: 'Content-Type is required' },
      });
    });

    it('429: a source over its own rate limit, with Retry-After', async () => {
      const secret = workspace.sources[1].secrets[0];
      const first = await post(
        JSON.stringify([pointsUpdated('evt-r1'), pointsUpdated('evt-r2')]),
        'application/cloudevents-batch+json',
        { source: 'slow', secret },
      );
      expect(first.status).toBe(202);
      before += 2;
      const refused = await post(JSON.stringify(pointsUpdated('evt-r3')), 'application/cloudevents+json', {
        source: 'slow',
        secret,
      });
      expect(refused).toMatchObject({
        status: 429,
        headers: { 'retry-after': '1' },
        body: { error: 'rate_limited', message: 'source "slow" is over its limit of 2 events per second' },
      });
    });
  });

  it('GET /v1/catalog lists every type with its schema', async () => {
    const response = await app.inject({ method: 'GET', url: '/v1/catalog' });
    const types = (
      response.json() as { types: Array<{ type: string; version: number; schema: { $id: string } }> }
    ).types;
    expect(types).toHaveLength(16);
    expect(types.find((entry) => entry.type === 'points.updated')).toMatchObject({
      version: 1,
      schema: { $id: 'urn:tessera:event:points.updated:v1' },
    });
  });

  it('GET /metrics counts events by outcome, type and source; /healthz and /readyz answer', async () => {
    const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toMatch(
      /tessera_ingest_events_total\{source="loyalty",type="points.updated",status="accepted"\} \d+/,
    );
    expect(metrics).toMatch(
      /tessera_ingest_events_total\{source="loyalty",type="points.updated",status="duplicate"\} 2/,
    );
    // Rejections count under the type the event claimed: a bad delta, a missing id and a webhook without
    // request_id (all points.updated), an unknown type, and the type only Tessera may emit.
    expect(metrics).toMatch(
      /tessera_ingest_events_total\{source="loyalty",type="points.updated",status="rejected"\} 3\n/,
    );
    expect(metrics).toMatch(
      /tessera_ingest_events_total\{source="loyalty",type="unknown",status="rejected"\} 1\n/,
    );
    expect(metrics).toMatch(
      /tessera_ingest_events_total\{source="loyalty",type="membership.split",status="rejected"\} 1\n/,
    );
    expect(metrics).toMatch(
      /tessera_http_request_duration_seconds_bucket\{le="0.025",method="POST",route="\/v1\/sources\/:sourceId\/events",status_code="202"\}/,
    );
    expect(metrics).toMatch(/tessera_queue_jobs\{queue="resolve",state="waiting"\} \d+/);
    expect((await app.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    expect((await app.inject({ method: 'GET', url: '/readyz' })).json()).toEqual({
      status: 'ready',
      checks: { redis: 'up', store: 'up' },
    });
  });
});

describe('when the store of record is away', () => {
  it('/readyz answers 503 and names the store', async () => {
    const t = await createTestRuntime();
    const app = await createHttpApp(t.runtime, [IngestModule]);
    await app.init();
    try {
      await t.runtime.store.close();
      const ready = await app.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toEqual({ status: 'not_ready', checks: { redis: 'up', store: 'down' } });
    } finally {
      await app.close();
      await t.cleanup();
    }
  });
});

describe('when the queue cannot take events', () => {
  const pointsEvent = JSON.stringify({
    specversion: '1.0',
    id: 'evt-503',
    source: 's',
    type: 'points.updated',
    data: { customer_id: 'C1', delta: 1, new_balance: 1 },
  });

  const postPointsEvent = (app: NestFastifyApplication, t: TestRuntime) =>
    app.inject({
      method: 'POST',
      url: '/v1/sources/loyalty/events',
      headers: {
        ...signedHeaders(t.runtime.workspace.sources[0].secrets[0], pointsEvent),
        'content-type': 'application/cloudevents+json',
      },
      payload: pointsEvent,
    });

  const expectUnavailable = (response: Awaited<ReturnType<typeof postPointsEvent>>, message: string) => {
    expect(response.statusCode).toBe(503);
    expect(response.headers['retry-after']).toBe('5');
    expect(response.json()).toEqual({ error: 'unavailable', message });
  };

  it('503 + Retry-After when the resolve queue is over its depth limit', async () => {
    const t = await createTestRuntime(testWorkspace(), { TESSERA_INGEST_MAX_QUEUE_DEPTH: '1' });
    const filler = new JobQueue('resolve', t.redis, t.runtime.settings.redisPrefix);
    const keyRing = new KeyRing([t.runtime.masterKey], QUEUE_PAYLOAD_KEY_PURPOSE);
    await filler.add('resolve.events', { count: 0, events: keyRing.sealJson([], 'filler') }, 'filler');
    const app = await createHttpApp(t.runtime, [IngestModule]);
    await app.init();
    try {
      const response = await postPointsEvent(app, t);
      expectUnavailable(response, 'the event queue is over its depth limit; retry later');
      expect(await filler.waitingCount()).toBe(1);
      expect(await t.redis.keys(`${t.runtime.settings.redisPrefix}:seen:*`)).toEqual([]);
    } finally {
      await filler.close();
      await app.close();
      await t.cleanup();
    }
  });

  it('503 + Retry-After when Redis is unreachable, and /readyz says so', async () => {
    const t = await createTestRuntime();
    const app = await createHttpApp({ ...t.runtime, redis: { url: 'redis://127.0.0.1:1' } }, [IngestModule]);
    await app.init();
    try {
      const response = await postPointsEvent(app, t);
      expectUnavailable(response, 'the event queue is unavailable; retry later');
      const ready = await app.inject({ method: 'GET', url: '/readyz' });
      expect(ready.statusCode).toBe(503);
      expect(ready.json()).toEqual({ status: 'not_ready', checks: { redis: 'down', store: 'up' } });
    } finally {
      await app.close();
      await t.cleanup();
    }
  });
});
