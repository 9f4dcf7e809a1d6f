import { MAX_BATCH_EVENTS, MAX_EVENT_BYTES, MAX_REQUEST_BYTES, parseRequestBody } from './request-body';

type Headers = Record<string, string | string[] | undefined>;

const event = (
  id = 'e1',
  data: Record<string, unknown> = { customer_id: 'C1', delta: 5, new_balance: 5 },
) => ({
  specversion: '1.0',
  id,
  source: '/loyalty',
  type: 'points.updated',
  data,
});

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));

const parse = (contentType: string | undefined, body: Buffer, headers: Headers = {}) =>
  parseRequestBody(contentType, headers, body, 'loyalty');

describe('parseRequestBody', () => {
  describe('content modes', () => {
    it.each([
      ['application/cloudevents+json'],
      ['application/cloudevents+json; charset=utf-8'],
      ['Application/CloudEvents+JSON'],
    ])('reads %s as one structured event', (contentType) => {
      expect(parse(contentType, json(event()))).toEqual({
        ok: true,
        mode: 'structured',
        events: [{ raw: event() }],
      });
    });

    it('reads application/cloudevents-batch+json as a batch, in order', () => {
      const batch = [event('e1'), event('e2'), event('e3')];
      expect(parse('application/cloudevents-batch+json; charset=utf-8', json(batch))).toEqual({
        ok: true,
        mode: 'batch',
        events: batch.map((raw) => ({ raw })),
      });
    });

    it('reads application/json with ce-* headers as binary mode: the attributes from headers, data from the body', () => {
      const data = { customer_id: 'C1', delta: 5, new_balance: 5 };
      const headers: Headers = {
        'content-type': 'application/json; charset=utf-8',
        'ce-specversion': '1.0',
        'ce-id': 'e1',
        'ce-source': '%2Floyalty%2Fstore%20one',
        'ce-type': 'points.updated',
        'ce-time': '2026-11-01T10:00:00Z',
        'ce-traceparent': '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
        'ce-subject': ['caf%C3%A9', 'ignored'],
        'ce-broken': '100%',
        'webhook-id': 'msg_1',
      };
      expect(parse('application/json; charset=utf-8', json(data), headers)).toEqual({
        ok: true,
        mode: 'binary',
        events: [
          {
            raw: {
              datacontenttype: 'application/json',
              specversion: '1.0',
              id: 'e1',
              source: '/loyalty/store one',
              type: 'points.updated',
              time: '2026-11-01T10:00:00Z',
              traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
              subject: 'café',
              broken: '100%',
              data,
            },
          },
        ],
      });
    });

    it('reads a structured event sent as plain application/json', () => {
      expect(parse('application/json', json(event()))).toEqual({
        ok: true,
        mode: 'structured',
        events: [{ raw: event() }],
      });
    });

    it('maps a plain JSON object without specversion as a loyalty webhook', () => {
      const webhook = {
        event: 'points_earned',
        customer_id: 'C123456',
        payload: { delta: 120, new_balance: 1840 },
        meta: { source: 'loyalty-platform', request_id: 'req-1' },
      };
      expect(parse('application/json', json(webhook))).toEqual({
        ok: true,
        mode: 'loyalty-webhook',
        events: [
          {
            raw: {
              specversion: '1.0',
              id: 'req-1',
              source: 'loyalty-platform',
              type: 'points_earned',
              data: { delta: 120, new_balance: 1840, customer_id: 'C123456' },
            },
          },
        ],
      });
    });

    it('keeps the envelope issues of a loyalty webhook beside its event', () => {
      expect(parse('application/json', json({ customer_id: 'C1', meta: { request_id: 'req-1' } }))).toEqual({
        ok: true,
        mode: 'loyalty-webhook',
        events: [
          {
            raw: {
              specversion: '1.0',
              id: 'req-1',
              source: 'urn:tessera:source:loyalty',
              type: undefined,
              data: { customer_id: 'C1' },
            },
            issues: [{ path: '/event', message: 'is required (the event name)' }],
          },
        ],
      });
    });
  });

  describe('rejections', () => {
    const cases: Array<[string, string | undefined, Buffer, Headers, number, string, string]> = [
      [
        'no Content-Type',
        undefined,
        json(event()),
        {},
        415,
        'unsupported_media_type',
        'Content-Type is required',
      ],
      [
        'an empty Content-Type',
        ' ',
        json(event()),
        {},
        415,
        'unsupported_media_type',
        'Content-Type is required',
      ],
      [
        'text/plain',
        'text/plain',
        json(event()),
        {},
        415,
        'unsupported_media_type',
        'Content-Type text/plain is not accepted: send application/cloudevents+json, ' +
          'application/cloudevents-batch+json, or JSON data in binary mode (ce-* headers) or as a loyalty webhook',
      ],
      [
        'an empty body',
        'application/cloudevents+json',
        Buffer.alloc(0),
        {},
        400,
        'empty_body',
        'the request has no body',
      ],
      [
        'a batch that is not an array',
        'application/cloudevents-batch+json',
        json(event()),
        {},
        400,
        'invalid_batch',
        'a batch must be a JSON array of CloudEvents',
      ],
      [
        'an empty batch',
        'application/cloudevents-batch+json',
        json([]),
        {},
        400,
        'invalid_batch',
        'a batch must hold at least one event',
      ],
      [
        'a batch of 1001 events',
        'application/cloudevents-batch+json',
        json(Array.from({ length: 1001 }, () => ({}))),
        {},
        413,
        'batch_too_large',
        'a batch may hold at most 1000 events (got 1001)',
      ],
      [
        'a JSON array sent as application/json without ce-* headers',
        'application/json',
        json([event()]),
        {},
        400,
        'invalid_body',
        'expected a loyalty webhook JSON object, or CloudEvents with a cloudevents Content-Type',
      ],
      [
        'a JSON string sent as application/json',
        'application/json',
        json('hello'),
        {},
        400,
        'invalid_body',
        'expected a loyalty webhook JSON object, or CloudEvents with a cloudevents Content-Type',
      ],
    ];

    it.each(cases)('rejects %s', (_name, contentType, body, headers, status, error, message) => {
      expect(parse(contentType, body, headers)).toEqual({ ok: false, status, error, message });
    });

    it.each([['application/cloudevents+json'], ['application/cloudevents-batch+json'], ['application/json']])(
      'rejects a body that is not JSON (%s)',
      (contentType) => {
        const result = parse(contentType, Buffer.from('{"id": '));
        expect(result).toMatchObject({ ok: false, status: 400, error: 'invalid_json' });
        expect(result.ok === false && result.message).toMatch(/^the body is not valid JSON: /);
      },
    );
  });

  describe('limits', () => {
    const padded = (bytes: number) => event('big', { customer_id: 'C1', note: 'x'.repeat(bytes) });

    it('uses 1 MiB per request, 64 KiB per event and 1000 events per batch', () => {
      expect([MAX_REQUEST_BYTES, MAX_EVENT_BYTES, MAX_BATCH_EVENTS]).toEqual([1_048_576, 65_536, 1000]);
    });

    it('accepts a batch of exactly 1000 events', () => {
      const batch = Array.from({ length: 1000 }, (_, i) => event(`e${i}`));
      const result = parse('application/cloudevents-batch+json', json(batch));
      expect(result.ok && result.events.length).toBe(1000);
    });

    it('rejects a single structured event over 64 KiB', () => {
      const body = json(padded(MAX_EVENT_BYTES));
      expect(body.length).toBeGreaterThan(MAX_EVENT_BYTES);
      expect(parse('application/cloudevents+json', body)).toEqual({
        ok: false,
        status: 413,
        error: 'event_too_large',
        message: 'an event may be at most 64 KiB',
      });
    });

    it('accepts a structured event of exactly 64 KiB', () => {
      const skeleton = json(padded(0)).length;
      const body = json(padded(MAX_EVENT_BYTES - skeleton));
      expect(body.length).toBe(MAX_EVENT_BYTES);
      expect(parse('application/cloudevents+json', body).ok).toBe(true);
    });

    it('rejects a batch item over 64 KiB and names its index', () => {
      const batch = [event('e0'), event('e1'), padded(MAX_EVENT_BYTES), event('e3')];
      expect(parse('application/cloudevents-batch+json', json(batch))).toEqual({
        ok: false,
        status: 413,
        error: 'event_too_large',
        message: 'event 2 of the batch is over 64 KiB',
      });
    });

    it.each([['application/cloudevents+json'], ['application/cloudevents-batch+json'], ['text/plain']])(
      'rejects a body over 1 MiB before reading it (%s)',
      (contentType) => {
        expect(parse(contentType, Buffer.alloc(MAX_REQUEST_BYTES + 1, 'a'))).toEqual({
          ok: false,
          status: 413,
          error: 'payload_too_large',
          message: 'a request may carry at most 1 MiB',
        });
      },
    );
  });
});
