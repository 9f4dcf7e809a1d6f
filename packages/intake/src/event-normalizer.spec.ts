import { randomBytes } from 'node:crypto';
import { eventCatalog } from '@tessera/events';
import { normalizeEvent } from './event-normalizer';
import type { RegisteredSource } from './source-directory';

const catalog = eventCatalog();

const source: RegisteredSource = {
  id: 'loyalty',
  brand: 'demo',
  secrets: [`whsec_${randomBytes(32).toString('base64')}`],
  typeMap: { points_earned: 'points.updated' },
  rateLimit: 100,
};

const pointsData = () => ({ customer_id: 'C123456', delta: 120, new_balance: 1840, reason: 'purchase' });

const pointsEvent = (overrides: Record<string, unknown> = {}): Record<string, unknown> => ({
  specversion: '1.0',
  id: 'e1',
  source: '/loyalty',
  type: 'points.updated',
  data: pointsData(),
  ...overrides,
});

describe('normalizeEvent', () => {
  it('returns a valid structured event as a catalog event', () => {
    const raw = pointsEvent({
      time: '2026-11-01T10:00:00Z',
      subject: 'C123456',
      dataschema: 'https://tessera.example/schemas/points.updated',
      datacontenttype: 'application/json',
      traceparent: '00-abc',
      attempt: 2,
      replay: false,
    });
    expect(normalizeEvent(raw, source, catalog)).toEqual({
      ok: true,
      event: {
        specversion: '1.0',
        id: 'e1',
        source: '/loyalty',
        type: 'points.updated',
        time: '2026-11-01T10:00:00Z',
        subject: 'C123456',
        dataschema: 'https://tessera.example/schemas/points.updated',
        data: pointsData(),
        extensions: { traceparent: '00-abc', attempt: 2, replay: false },
      },
    });
  });

  it('leaves out optional attributes and extensions that were not sent', () => {
    const result = normalizeEvent(pointsEvent(), source, catalog);
    expect(result).toEqual({
      ok: true,
      event: { specversion: '1.0', id: 'e1', source: '/loyalty', type: 'points.updated', data: pointsData() },
    });
    expect(result.ok && Object.keys(result.event)).toEqual(['specversion', 'id', 'source', 'type', 'data']);
  });

  it('maps a source type through the typeMap and keeps the name that was sent', () => {
    expect(normalizeEvent(pointsEvent({ type: 'points_earned' }), source, catalog)).toEqual({
      ok: true,
      event: { specversion: '1.0', id: 'e1', source: '/loyalty', type: 'points.updated', data: pointsData() },
      sourceType: 'points_earned',
    });
  });

  it('fills the consent.changed purpose default into the returned data', () => {
    const data = {
      email: 'ana@example.com',
      brand: 'demo',
      channel: 'email',
      status: 'granted',
      legal_basis: 'consent',
      captured_at: '2026-11-01T10:00:00Z',
      notice_version: 'privacy-2026-09',
    };
    const result = normalizeEvent(pointsEvent({ type: 'consent.changed', data }), source, catalog);
    expect(result).toMatchObject({
      ok: true,
      event: { type: 'consent.changed', data: { ...data, purpose: 'marketing' } },
    });
  });

  describe('rejections', () => {
    const cases: Array<[string, unknown, string | null, Array<{ path: string; message: string }>]> = [
      [
        'an unknown type',
        pointsEvent({ type: 'x' }),
        'e1',
        [
          {
            path: '/type',
            message:
              'unknown event type "x": use a catalog type (GET /v1/catalog) or map it in the source\'s typeMap',
          },
        ],
      ],
      [
        'an internal type',
        pointsEvent({ type: 'membership.split', data: { from_customer_id: 'C1', to_customer_id: 'C2' } }),
        'e1',
        [{ path: '/type', message: 'membership.split is emitted by Tessera itself; sources cannot send it' }],
      ],
      ['a missing id', pointsEvent({ id: undefined }), null, [{ path: '/id', message: 'is required' }]],
      [
        'an empty id',
        pointsEvent({ id: '' }),
        null,
        [{ path: '/id', message: 'must NOT have fewer than 1 characters' }],
      ],
      ['missing data', pointsEvent({ data: undefined }), 'e1', [{ path: '/data', message: 'is required' }]],
      [
        'a missing id and missing data',
        pointsEvent({ id: undefined, data: undefined }),
        null,
        [
          { path: '/id', message: 'is required' },
          { path: '/data', message: 'is required' },
        ],
      ],
      ['a number', 42, null, [{ path: '', message: 'must be a CloudEvent (a JSON object)' }]],
      ['null', null, null, [{ path: '', message: 'must be a CloudEvent (a JSON object)' }]],
      ['an array', [pointsEvent()], null, [{ path: '', message: 'must be a CloudEvent (a JSON object)' }]],
      [
        'a non-integer delta',
        pointsEvent({ data: { ...pointsData(), delta: 'ten' } }),
        'e1',
        [{ path: '/data/delta', message: 'must be integer' }],
      ],
      [
        'a mapped type whose data does not fit the catalog type',
        pointsEvent({ type: 'points_earned', data: { customer_id: 'C1', delta: 5 } }),
        'e1',
        [{ path: '/data/new_balance', message: 'is required' }],
      ],
    ];

    it.each(cases)('rejects %s', (_name, raw, id, issues) => {
      expect(normalizeEvent(JSON.parse(JSON.stringify(raw)) as unknown, source, catalog)).toEqual({
        ok: false,
        id,
        issues,
      });
    });

    it('does not look up the type before the attributes are valid', () => {
      expect(normalizeEvent(pointsEvent({ type: 'x', specversion: '0.3' }), source, catalog)).toEqual({
        ok: false,
        id: 'e1',
        issues: [{ path: '/specversion', message: 'must be "1.0"' }],
      });
    });
  });
});
