import { EVENT_TYPES, type EventType } from './generated/event-types';
import { EventCatalog } from './event-catalog';

const catalog = new EventCatalog();

/** One valid `data` per type: the smallest realistic payload. */
const validExamples: Record<EventType, Record<string, unknown>> = {
  'profile.updated': {
    customer_id: 'C1',
    first_name: 'Ana',
    last_name: 'Silva',
    address: { line1: '1 High St', city: 'Leeds', postcode: 'LS1 1AA', country: 'GB' },
    preferred_channel: 'email',
    source_ids: { 'sports-direct': 'SD123', flannels: 'FL9' },
  },
  'points.updated': {
    customer_id: 'C123456',
    email: 'user@example.com',
    delta: 120,
    new_balance: 1840,
    reason: 'purchase',
  },
  'tier.changed': { member_id: 'SD123', brand: 'sports-direct', tier: 'Gold', previous_tier: 'Silver' },
  'membership.merged': { from_customer_id: 'C1', to_customer_id: 'C2', reason: 'same verified email' },
  'consent.changed': {
    email: 'ana@example.com',
    brand: 'sports-direct',
    channel: 'email',
    status: 'granted',
    legal_basis: 'consent',
    captured_at: '2026-11-01T10:00:00Z',
    notice_version: 'privacy-2026-09',
    proof: { method: 'double_opt_in', reference: 'doi-token-1' },
  },
  'transaction.created': {
    customer_id: 'C1',
    transaction_id: 'T1',
    amount: 59.99,
    currency: 'GBP',
    channel: 'store',
    items: [{ sku: 'SKU-1', quantity: 2, unit_price: 29.995 }],
  },
  'coupon.issued': {
    loyalty_card: '6330001234',
    coupon_code: 'WELCOME10',
    expires_at: '2026-12-31T23:59:59Z',
  },
  'points.reserved': { customer_id: 'C1', reservation_id: 'R1', points: 500 },
  'points.captured': { customer_id: 'C1', reservation_id: 'R1', points: 500, order_id: 'O1' },
  'points.released': { customer_id: 'C1', reservation_id: 'R1', points: 500, reason: 'order cancelled' },
  'account.linked': {
    customer_id: 'C1',
    link: { member_id: 'SD123', brand: 'sports-direct' },
    method: 'login',
  },
  'showroom.viewed_3d_model': {
    anonymous_id: 'anon-1',
    showroom_id: 'S1',
    product_id: 'P1',
    duration_ms: 12000,
  },
  'showroom.tried_variant': {
    anonymous_id: 'anon-1',
    showroom_id: 'S1',
    product_id: 'P1',
    variant_id: 'red-42',
  },
  'showroom.started_checkout': {
    customer_id: 'C1',
    showroom_id: 'S1',
    cart_id: 'K1',
    value: 120,
    currency: 'EUR',
  },
  'showroom.redeemed_point_offer': { customer_id: 'C1', showroom_id: 'S1', offer_id: 'OF1', points: 300 },
  'membership.split': { from_customer_id: 'C1', to_customer_id: 'C2', reason: 'wrong merge reversed' },
};

describe('EventCatalog', () => {
  it('has exactly the design’s event types', () => {
    expect([...EVENT_TYPES].sort()).toEqual(
      [
        'profile.updated',
        'points.updated',
        'tier.changed',
        'membership.merged',
        'consent.changed',
        'transaction.created',
        'coupon.issued',
        'points.reserved',
        'points.captured',
        'points.released',
        'account.linked',
        'showroom.viewed_3d_model',
        'showroom.tried_variant',
        'showroom.started_checkout',
        'showroom.redeemed_point_offer',
        'membership.split',
      ].sort(),
    );
    expect(catalog.list().map((entry) => entry.type)).toEqual([...EVENT_TYPES]);
  });

  it('marks membership.split as internal and every other type as sendable by sources', () => {
    const internal = catalog
      .list()
      .filter((entry) => entry.origin === 'internal')
      .map((entry) => entry.type);
    expect(internal).toEqual(['membership.split']);
    expect(catalog.entry('points.updated')).toMatchObject({ version: 1, origin: 'source' });
  });

  it.each(EVENT_TYPES.map((type) => [type]))('accepts a valid %s', (type) => {
    expect(catalog.validateData(type, structuredClone(validExamples[type]))).toEqual([]);
  });

  const requiredFields = EVENT_TYPES.flatMap((type) =>
    ((catalog.entry(type).schema.required as string[] | undefined) ?? []).map(
      (field) => [type, field] as const,
    ),
  );

  it.each(requiredFields)('rejects %s data without its required %s', (type, field) => {
    const data = structuredClone(validExamples[type]);
    delete data[field];
    expect(catalog.validateData(type, data)).toContainEqual({
      path: `/data/${field}`,
      message: 'is required',
    });
  });

  describe.each(EVENT_TYPES.map((type) => [type]))('%s rejects', (type) => {
    it('a field its schema does not declare', () => {
      const data = { ...structuredClone(validExamples[type]), unexpected_field: 1 };
      expect(catalog.validateData(type, data)).toEqual([
        { path: '/data/unexpected_field', message: 'is not a known field' },
      ]);
    });

    it('data that is not an object', () => {
      expect(catalog.validateData(type, ['not', 'an', 'object'])).toContainEqual({
        path: '/data',
        message: 'must be object',
      });
    });
  });

  it('accepts the loyalty platform’s own points.updated example as it is, and negative deltas', () => {
    const example = {
      customer_id: 'C123456',
      email: 'user@example.com',
      delta: 120,
      new_balance: 1840,
      reason: 'purchase',
    };
    expect(catalog.validateData('points.updated', example)).toEqual([]);
    expect(catalog.validateData('points.updated', { ...example, delta: -300, new_balance: 1540 })).toEqual(
      [],
    );
  });

  it('trims emails and phones before checking them, in place, and nothing else (issue 19, item 9)', () => {
    const data: Record<string, unknown> = {
      email: ' Jane.Doe@Example.COM ',
      phone: '\t+44 7700 900123 \n',
      first_name: ' Jane ',
    };
    expect(catalog.validateData('profile.updated', data)).toEqual([]);
    expect(data).toEqual({ email: 'Jane.Doe@Example.COM', phone: '+44 7700 900123', first_name: ' Jane ' });
    // Consent by email: its required email, padded, is the member's address.
    const consent: Record<string, unknown> = {
      email: '  jane@example.com',
      brand: 'sd',
      channel: 'email',
      status: 'granted',
      legal_basis: 'consent',
      captured_at: '2026-01-01T00:00:00Z',
      notice_version: 'v1',
    };
    expect(catalog.validateData('consent.changed', consent)).toEqual([]);
    expect(consent['email']).toBe('jane@example.com');
    // Padding is not what makes an address invalid; an invalid one stays refused, and blank is not an email.
    expect(catalog.validateData('profile.updated', { email: ' not-an-email ' })).toEqual([
      { path: '/data/email', message: 'must be a valid email' },
    ]);
    expect(catalog.validateData('profile.updated', { customer_id: 'C1', phone: '   ' })).toEqual([
      { path: '/data/phone', message: 'must NOT have fewer than 1 characters' },
    ]);
    // A value of the wrong type is left as it came, and refused as such.
    expect(catalog.validateData('profile.updated', { customer_id: 'C1', email: 42 })).toEqual([
      { path: '/data/email', message: 'must be string' },
    ]);
  });

  it('fills the consent purpose default', () => {
    const data = structuredClone(validExamples['consent.changed']);
    expect(catalog.validateData('consent.changed', data)).toEqual([]);
    expect(data.purpose).toBe('marketing');
  });

  describe('rejects with a JSON Pointer and a reason', () => {
    const cases: Array<
      [string, EventType, Record<string, unknown>, Array<{ path: string; message: string }>]
    > = [
      [
        'a non-integer delta',
        'points.updated',
        { customer_id: 'C1', delta: 'ten', new_balance: 5 },
        [{ path: '/data/delta', message: 'must be integer' }],
      ],
      [
        'a missing required field',
        'points.updated',
        { customer_id: 'C1', delta: 5 },
        [{ path: '/data/new_balance', message: 'is required' }],
      ],
      [
        'an event without any identifier',
        'points.updated',
        { delta: 5, new_balance: 5 },
        [
          {
            path: '/data',
            message:
              'must carry at least one identifier: customer_id, email, phone, member_id (with brand), loyalty_card or anonymous_id',
          },
        ],
      ],
      [
        'a member_id without its brand',
        'tier.changed',
        { member_id: 'SD1', tier: 'Gold' },
        [{ path: '/data/brand', message: 'is required with member_id' }],
      ],
      [
        'an unknown field',
        'tier.changed',
        { customer_id: 'C1', tier: 'Gold', colour: 'red' },
        [{ path: '/data/colour', message: 'is not a known field' }],
      ],
      [
        'a malformed email',
        'profile.updated',
        { email: 'not-an-email' },
        [{ path: '/data/email', message: 'must be a valid email' }],
      ],
      [
        'an email over 254 characters',
        'profile.updated',
        { email: `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.com` },
        [{ path: '/data/email', message: 'must NOT have more than 254 characters' }],
      ],
      [
        'an over-long string',
        'tier.changed',
        { customer_id: 'C1', tier: 'x'.repeat(65) },
        [{ path: '/data/tier', message: 'must NOT have more than 64 characters' }],
      ],
      [
        'an email consent without an email address',
        'consent.changed',
        { ...validExamples['consent.changed'], email: undefined, customer_id: 'C1' },
        [{ path: '/data/email', message: 'is required' }],
      ],
      [
        'a consent status outside the enum',
        'consent.changed',
        { ...validExamples['consent.changed'], status: 'maybe' },
        [{ path: '/data/status', message: 'must be one of: granted, withdrawn' }],
      ],
      [
        'a merge without its target',
        'membership.merged',
        { from_customer_id: 'C1' },
        [{ path: '/data/to_customer_id', message: 'is required' }],
      ],
      [
        'too many line items (no unbounded arrays)',
        'transaction.created',
        {
          customer_id: 'C1',
          transaction_id: 'T',
          amount: 1,
          currency: 'GBP',
          items: Array.from({ length: 501 }, () => ({ sku: 'S', quantity: 1 })),
        },
        [{ path: '/data/items', message: 'must NOT have more than 500 items' }],
      ],
      [
        'a lowercase currency',
        'transaction.created',
        { customer_id: 'C1', transaction_id: 'T', amount: 1, currency: 'gbp' },
        [{ path: '/data/currency', message: 'must match pattern "^[A-Z]{3}$"' }],
      ],
      [
        'a nested unknown field',
        'profile.updated',
        { customer_id: 'C1', address: { street: 'x' } },
        [{ path: '/data/address/street', message: 'is not a known field' }],
      ],
      [
        'zero points reserved',
        'points.reserved',
        { customer_id: 'C1', reservation_id: 'R', points: 0 },
        [{ path: '/data/points', message: 'must be >= 1' }],
      ],
    ];
    it.each(cases)('%s', (_name, type, data, issues) => {
      const clean = JSON.parse(JSON.stringify(data)) as Record<string, unknown>;
      expect(catalog.validateData(type, clean)).toEqual(issues);
    });
  });

  describe('CloudEvents attributes', () => {
    const event = { specversion: '1.0', id: 'e1', source: '/loyalty', type: 'points.updated', data: {} };
    it('accepts valid attributes and extensions', () => {
      expect(
        catalog.validateAttributes({ ...event, time: '2026-11-01T10:00:00Z', traceparent: '00-abc' }),
      ).toEqual([]);
    });
    it('rejects a missing id, a wrong specversion, a bad time and a bad extension name', () => {
      const { id: _id, ...withoutId } = event;
      expect(catalog.validateAttributes(withoutId)).toEqual([{ path: '/id', message: 'is required' }]);
      expect(catalog.validateAttributes({ ...event, specversion: '0.3' })).toEqual([
        { path: '/specversion', message: 'must be "1.0"' },
      ]);
      expect(catalog.validateAttributes({ ...event, time: 'yesterday' })).toEqual([
        { path: '/time', message: 'must be a valid date-time' },
      ]);
      expect(catalog.validateAttributes({ ...event, Bad_Name: 'x' })).toEqual([
        { path: '/Bad_Name', message: 'is not an allowed name here' },
      ]);
      expect(catalog.validateAttributes({ ...event, id: '' })).toEqual([
        { path: '/id', message: 'must NOT have fewer than 1 characters' },
      ]);
    });
  });
});
