import { dataOf, errorOf, importProfile, setup, START } from './klaviyo-test-support';

describe('KlaviyoEmulator: subscriptions and suppressions', () => {
  const subscribeBody = (profiles: unknown[], listId?: string, historical?: boolean) => ({
    data: {
      type: 'profile-subscription-bulk-create-job',
      attributes: {
        profiles: { data: profiles },
        ...(historical === undefined ? {} : { historical_import: historical }),
      },
      ...(listId === undefined ? {} : { relationships: { list: { data: { type: 'list', id: listId } } } }),
    },
  });
  const subscriber = (attributes: Record<string, unknown>, channels: Record<string, unknown>) => ({
    type: 'profile',
    attributes: { ...attributes, subscriptions: channels },
  });
  const emailMarketing = { email: { marketing: { consent: 'SUBSCRIBED' } } };

  it('subscribes (creating the profile), adds to the list, and records consent for email and sms', async () => {
    const { send, emulator, clock } = setup({ lists: [{ id: 'Y6nRLr', name: 'VIP' }] });
    clock.advance(1_000);
    const response = await send(
      'POST',
      '/api/profile-subscription-bulk-create-jobs',
      subscribeBody(
        [
          subscriber(
            { email: 'ada@example.com', phone_number: '+33612345678' },
            { ...emailMarketing, sms: { marketing: { consent: 'SUBSCRIBED' } } },
          ),
        ],
        'Y6nRLr',
      ),
    );
    expect(response).toEqual({ status: 202 });
    const profile = emulator.findProfile({ email: 'ada@example.com' });
    const at = new Date(START + 1_000).toISOString();
    expect(profile?.attributes.subscriptions).toEqual({
      email: { marketing: { consent: 'SUBSCRIBED', consented_at: at, last_updated: at, suppression: [] } },
      sms: { marketing: { consent: 'SUBSCRIBED', consented_at: at, last_updated: at, suppression: [] } },
    });
    expect(profile?.attributes.phone_number).toBe('+33612345678');
    expect(emulator.state().lists[0]?.profileIds).toEqual([profile?.id]);
  });

  it('refuses the whole request when one entry is wrong, and over 1,000 profiles', async () => {
    const { send, emulator } = setup();
    const cases: Array<[unknown, string]> = [
      [
        subscribeBody([
          subscriber({ email: 'ok@example.com' }, emailMarketing),
          subscriber({ phone_number: '+33612345678' }, emailMarketing),
        ]),
        '/data/attributes/profiles/data/1/attributes/email',
      ],
      [
        subscribeBody([
          subscriber({ email: 'ok@example.com' }, { email: { marketing: { consent: 'UNSUBSCRIBED' } } }),
        ]),
        '/data/attributes/profiles/data/0/attributes/subscriptions/email/marketing/consent',
      ],
      [
        subscribeBody([subscriber({ email: 'ok@example.com' }, emailMarketing)], undefined, true),
        '/data/attributes/profiles/data/0/attributes/subscriptions/email/marketing/consented_at',
      ],
      [
        subscribeBody(
          Array.from({ length: 1_001 }, (_, i) => subscriber({ email: `m${i}@example.com` }, emailMarketing)),
        ),
        '/data/attributes/profiles/data',
      ],
    ];
    for (const [body, pointer] of cases) {
      const response = await send('POST', '/api/profile-subscription-bulk-create-jobs', body);
      expect(response.status).toBe(400);
      expect(errorOf(response)).toMatchObject({ code: 'invalid', source: { pointer } });
    }
    expect(emulator.state().profiles).toEqual([]);
    const unknownList = await send(
      'POST',
      '/api/profile-subscription-bulk-create-jobs',
      subscribeBody([subscriber({ email: 'ok@example.com' }, emailMarketing)], 'NOLIST'),
    );
    expect(unknownList.status).toBe(404);
  });

  it('unsubscribes (≤ 100): consent UNSUBSCRIBED, no suppression entry, a newer updated', async () => {
    const { send, emulator, clock } = setup();
    await send(
      'POST',
      '/api/profile-subscription-bulk-create-jobs',
      subscribeBody([subscriber({ email: 'ada@example.com' }, emailMarketing)]),
    );
    clock.advance(5_000);
    const body = (count: number) => ({
      data: {
        type: 'profile-subscription-bulk-delete-job',
        attributes: {
          profiles: {
            data: Array.from({ length: count }, (_, i) => ({
              type: 'profile',
              attributes: {
                email: i === 0 ? 'ada@example.com' : `m${i}@example.com`,
                subscriptions: { email: { marketing: { consent: 'UNSUBSCRIBED' } } },
              },
            })),
          },
        },
      },
    });
    const tooMany = await send('POST', '/api/profile-subscription-bulk-delete-jobs', body(101));
    expect(tooMany.status).toBe(400);
    expect(errorOf(tooMany).source).toEqual({ pointer: '/data/attributes/profiles/data' });
    expect(
      emulator.findProfile({ email: 'ada@example.com' })?.attributes.subscriptions.email.marketing.consent,
    ).toBe('SUBSCRIBED');
    expect((await send('POST', '/api/profile-subscription-bulk-delete-jobs', body(1))).status).toBe(202);
    const at = new Date(START + 5_000).toISOString();
    expect(emulator.findProfile({ email: 'ada@example.com' })?.attributes).toMatchObject({
      updated: at,
      subscriptions: {
        email: {
          marketing: { consent: 'UNSUBSCRIBED', last_updated: at, suppression: [] },
        },
      },
    });
  });

  it('suppresses and unsuppresses by email (≤ 100), touching only USER_SUPPRESSED', async () => {
    const { send, emulator, clock } = setup();
    await importProfile(send, { email: 'ada@example.com' });
    const body = (type: string, emails: string[]) => ({
      data: {
        type,
        attributes: {
          profiles: { data: emails.map((email) => ({ type: 'profile', attributes: { email } })) },
        },
      },
    });
    clock.advance(1_000);
    const suppressed = await send(
      'POST',
      '/api/profile-suppression-bulk-create-jobs',
      body('profile-suppression-bulk-create-job', ['ada@example.com']),
    );
    expect(suppressed.status).toBe(202);
    expect(dataOf(suppressed)).toMatchObject({
      type: 'profile-suppression-bulk-create-job',
      attributes: { status: 'complete', total_count: 1, completed_count: 1, skipped_count: 0 },
    });
    const at = new Date(START + 1_000).toISOString();
    expect(emulator.findProfile({ email: 'ada@example.com' })?.attributes).toMatchObject({
      updated: at,
      subscriptions: {
        email: { marketing: { suppression: [{ reason: 'USER_SUPPRESSED', timestamp: at }] } },
      },
    });

    const tooMany = await send(
      'POST',
      '/api/profile-suppression-bulk-create-jobs',
      body(
        'profile-suppression-bulk-create-job',
        Array.from({ length: 101 }, (_, i) => `m${i}@example.com`),
      ),
    );
    expect(tooMany.status).toBe(400);
    expect(errorOf(tooMany).detail).toContain('100');
    const noEmail = await send('POST', '/api/profile-suppression-bulk-create-jobs', {
      data: {
        type: 'profile-suppression-bulk-create-job',
        attributes: {
          profiles: { data: [{ type: 'profile', attributes: { phone_number: '+33612345678' } }] },
        },
      },
    });
    expect(noEmail.status).toBe(400);
    expect(errorOf(noEmail).source.pointer).toMatch(
      /^\/data\/attributes\/profiles\/data\/0\/attributes\/(email|phone_number)$/,
    );
    expect(emulator.state().profiles).toHaveLength(1);

    const unsuppressed = await send(
      'POST',
      '/api/profile-suppression-bulk-delete-jobs',
      body('profile-suppression-bulk-delete-job', ['ada@example.com']),
    );
    expect(unsuppressed.status).toBe(202);
    expect(
      emulator.findProfile({ email: 'ada@example.com' })?.attributes.subscriptions.email.marketing
        .suppression,
    ).toEqual([]);
  });
});
