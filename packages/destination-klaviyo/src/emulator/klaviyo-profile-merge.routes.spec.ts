import { errorOf, importProfile, setup, START } from './klaviyo-test-support';

const mergeBody = (destinationId: string, ...sourceIds: string[]) => ({
  data: {
    type: 'profile-merge',
    id: destinationId,
    relationships: { profiles: { data: sourceIds.map((id) => ({ type: 'profile', id })) } },
  },
});

describe('KlaviyoEmulator: merge profiles', () => {
  it("moves the source's data into the destination profile, keeping the destination's values; the source is gone", async () => {
    const { send, emulator } = setup({ lists: [{ id: 'Y6nRLr', name: 'VIP' }] });
    const kept = await importProfile(send, {
      external_id: 'C1',
      email: 'keep@example.com',
      first_name: 'Jane',
      properties: { points_balance: 250 },
    });
    const retired = await importProfile(send, {
      external_id: 'C2',
      email: 'old@example.com',
      first_name: 'J.',
      last_name: 'Doe',
      phone_number: '+447911123456',
      properties: { points_balance: 100, favourite_store: 'Leeds' },
    });
    await send('POST', '/api/lists/Y6nRLr/relationships/profiles', {
      data: [{ type: 'profile', id: retired.id }],
    });

    const response = await send('POST', '/api/profile-merge', mergeBody(kept.id, retired.id));

    expect(response.status).toBe(201);
    expect((response.body as { data: unknown }).data).toEqual({
      type: 'profile',
      id: kept.id,
      links: { self: expect.stringContaining(`/api/profiles/${kept.id}/`) },
    });
    expect(emulator.findProfile({ id: retired.id })).toBeUndefined();
    expect(emulator.findProfile({ externalId: 'C2' })).toBeUndefined();
    expect(emulator.findProfile({ externalId: 'C1' })).toMatchObject({
      id: kept.id,
      attributes: {
        email: 'keep@example.com',
        first_name: 'Jane',
        last_name: 'Doe',
        phone_number: '+447911123456',
        properties: { points_balance: 250, favourite_store: 'Leeds' },
      },
    });
    // The phone moved with the source: found on the survivor now.
    expect(emulator.findProfile({ phone: '+447911123456' })?.id).toBe(kept.id);
    expect(emulator.state().lists[0]?.profileIds).toEqual([kept.id]);
    expect(emulator.state().profiles).toHaveLength(1);
    expect(emulator.state().merges).toEqual([
      { destination_id: kept.id, source_id: retired.id, merged_at: new Date(START).toISOString() },
    ]);
  });

  it('refuses an unknown profile (404), itself (400) and more than one source (400), changing nothing', async () => {
    const { send, emulator } = setup();
    const a = await importProfile(send, { external_id: 'C1', email: 'a@example.com' });
    const b = await importProfile(send, { external_id: 'C2', email: 'b@example.com' });

    const unknown = await send('POST', '/api/profile-merge', mergeBody(a.id, 'NOPE'));
    expect(unknown.status).toBe(404);
    expect(errorOf(unknown)).toMatchObject({
      detail: "A profile with id 'NOPE' does not exist.",
      source: { pointer: '/data/relationships/profiles/data/0/id' },
    });
    const self = await send('POST', '/api/profile-merge', mergeBody(a.id, a.id));
    expect(self.status).toBe(400);
    expect(errorOf(self).detail).toBe('A profile cannot be merged into itself.');
    const two = await send('POST', '/api/profile-merge', mergeBody(a.id, b.id, b.id));
    expect(two.status).toBe(400);
    expect(errorOf(two).source).toEqual({ pointer: '/data/relationships/profiles/data' });
    const wrongType = await send('POST', '/api/profile-merge', {
      data: { ...mergeBody(a.id, b.id).data, type: 'profile' },
    });
    expect(wrongType.status).toBe(400);

    expect(emulator.state().profiles.map((profile) => profile.id)).toEqual([a.id, b.id]);
    expect(emulator.state().merges).toEqual([]);
  });
});
