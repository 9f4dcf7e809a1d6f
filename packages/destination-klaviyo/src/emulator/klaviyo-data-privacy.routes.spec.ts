import { errorOf, importProfile, setup, START } from './klaviyo-test-support';

describe('KlaviyoEmulator: data privacy deletion', () => {
  const deletion = (data: Record<string, unknown>) => ({
    data: {
      type: 'data-privacy-deletion-job',
      attributes: { profile: { data: { type: 'profile', ...data } } },
    },
  });

  it('deletes the profile and its list memberships, and remembers the request; unknown is still 202', async () => {
    const { send, emulator } = setup({ lists: [{ id: 'Y6nRLr', name: 'VIP' }] });
    const a = await importProfile(send, { email: 'a@example.com', external_id: 'C1' });
    await send('POST', '/api/lists/Y6nRLr/relationships/profiles', { data: [{ type: 'profile', id: a.id }] });
    const response = await send(
      'POST',
      '/api/data-privacy-deletion-jobs',
      deletion({ attributes: { email: 'a@example.com' } }),
    );
    expect(response).toEqual({ status: 202 });
    expect(emulator.findProfile({ externalId: 'C1' })).toBeUndefined();
    expect(emulator.state().lists[0]?.profileIds).toEqual([]);
    const unknown = await send(
      'POST',
      '/api/data-privacy-deletion-jobs',
      deletion({ id: 'NOPE', attributes: {} }),
    );
    expect(unknown.status).toBe(202);
    expect(emulator.state().deletions).toEqual([
      {
        identifier: { email: 'a@example.com' },
        profile_ids: [a.id],
        requested_at: new Date(START).toISOString(),
      },
      { identifier: { id: 'NOPE' }, profile_ids: [], requested_at: new Date(START).toISOString() },
    ]);
  });

  it('needs exactly one identifier, in the places the spec puts them', async () => {
    const { send, emulator } = setup();
    await importProfile(send, { email: 'a@example.com' });
    const two = await send(
      'POST',
      '/api/data-privacy-deletion-jobs',
      deletion({ attributes: { email: 'a@example.com', phone_number: '+33612345678' } }),
    );
    expect(two.status).toBe(400);
    expect(errorOf(two).source).toEqual({ pointer: '/data/attributes/profile/data' });
    const none = await send('POST', '/api/data-privacy-deletion-jobs', deletion({ attributes: {} }));
    expect(none.status).toBe(400);
    const idInAttributes = await send(
      'POST',
      '/api/data-privacy-deletion-jobs',
      deletion({ attributes: { id: 'X' } }),
    );
    expect(idInAttributes.status).toBe(400);
    expect(errorOf(idInAttributes).source).toEqual({
      pointer: '/data/attributes/profile/data/attributes/id',
    });
    expect(emulator.state().profiles).toHaveLength(1);
    expect(emulator.state().deletions).toEqual([]);
  });
});
