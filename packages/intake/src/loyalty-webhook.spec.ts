import { mapLoyaltyWebhook, type LoyaltyWebhook } from './loyalty-webhook';

const example = (): LoyaltyWebhook => ({
  event: 'points_earned',
  customer_id: 'C123456',
  email: 'user@example.com',
  timestamp: '2026-11-01T10:00:00Z',
  payload: { delta: 120, new_balance: 1840, reason: 'purchase' },
  meta: { source: 'loyalty-platform', request_id: 'req-1' },
});

describe('mapLoyaltyWebhook', () => {
  it('maps the legacy platform example onto a CloudEvent without issues', () => {
    expect(mapLoyaltyWebhook(example(), 'loyalty')).toEqual({
      event: {
        specversion: '1.0',
        id: 'req-1',
        source: 'loyalty-platform',
        type: 'points_earned',
        time: '2026-11-01T10:00:00Z',
        data: {
          delta: 120,
          new_balance: 1840,
          reason: 'purchase',
          customer_id: 'C123456',
          email: 'user@example.com',
        },
      },
      issues: [],
    });
  });

  it('lets top-level identifiers win over payload fields of the same name', () => {
    const webhook = {
      ...example(),
      payload: { delta: 1, new_balance: 2, customer_id: 'FROM-PAYLOAD', email: 'x@y.z' },
    };
    expect(mapLoyaltyWebhook(webhook, 'loyalty').event.data).toEqual({
      delta: 1,
      new_balance: 2,
      customer_id: 'C123456',
      email: 'user@example.com',
    });
  });

  it('leaves out time when there is no timestamp, and data is the identifiers when there is no payload', () => {
    const { timestamp: _timestamp, payload: _payload, ...webhook } = example();
    const { event, issues } = mapLoyaltyWebhook(webhook, 'loyalty');
    expect(issues).toEqual([]);
    expect(event).not.toHaveProperty('time');
    expect(event.data).toEqual({ customer_id: 'C123456', email: 'user@example.com' });
  });

  it.each([
    ['Unix seconds', 1_793_527_200, '2026-11-01T10:00:00.000Z'],
    ['Unix milliseconds', 1_793_527_200_123, '2026-11-01T10:00:00.123Z'],
    ['a string, as given', 'not a date', 'not a date'],
  ])('turns a timestamp in %s into the event time', (_name, timestamp, time) => {
    expect(mapLoyaltyWebhook({ ...example(), timestamp }, 'loyalty').event.time).toBe(time);
  });

  it.each([
    ['missing', undefined],
    ['empty', ''],
    ['not a string', 7],
  ])('falls back to the registered source’s URN when meta.source is %s', (_name, source) => {
    const webhook = { ...example(), meta: { request_id: 'req-1', source } };
    expect(mapLoyaltyWebhook(webhook, 'store-pos').event.source).toBe('urn:tessera:source:store-pos');
  });

  describe('envelope issues', () => {
    const cases: Array<[string, LoyaltyWebhook, Array<{ path: string; message: string }>]> = [
      [
        'a missing event name',
        { ...example(), event: undefined },
        [{ path: '/event', message: 'is required (the event name)' }],
      ],
      [
        'an empty event name',
        { ...example(), event: '' },
        [{ path: '/event', message: 'is required (the event name)' }],
      ],
      [
        'a missing request_id',
        { ...example(), meta: { source: 'loyalty-platform' } },
        [{ path: '/meta/request_id', message: 'is required: it is the event id' }],
      ],
      [
        'a numeric request_id',
        { ...example(), meta: { source: 'loyalty-platform', request_id: 42 } },
        [{ path: '/meta/request_id', message: 'is required: it is the event id' }],
      ],
      [
        'a payload that is not an object',
        { ...example(), payload: [1, 2] },
        [{ path: '/payload', message: 'must be an object' }],
      ],
      [
        'a meta that is not an object',
        { ...example(), meta: 'req-1' as unknown as LoyaltyWebhook['meta'] },
        [
          { path: '/meta', message: 'must be an object' },
          { path: '/meta/request_id', message: 'is required: it is the event id' },
        ],
      ],
      [
        'an empty object',
        {},
        [
          { path: '/event', message: 'is required (the event name)' },
          { path: '/meta/request_id', message: 'is required: it is the event id' },
        ],
      ],
    ];

    it.each(cases)('reports %s', (_name, webhook, issues) => {
      expect(mapLoyaltyWebhook(webhook, 'loyalty').issues).toEqual(issues);
    });

    it('still maps what it can when the payload is not an object', () => {
      const { event } = mapLoyaltyWebhook({ ...example(), payload: 'points' }, 'loyalty');
      expect(event.data).toEqual({ customer_id: 'C123456', email: 'user@example.com' });
      expect(event.id).toBe('req-1');
    });
  });
});
