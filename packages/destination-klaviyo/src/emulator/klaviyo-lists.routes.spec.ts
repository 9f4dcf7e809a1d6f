import { dataOf, errorOf, importProfile, setup } from './klaviyo-test-support';

describe('KlaviyoEmulator: lists', () => {
  it('creates a list with a six-character id and reads it back; seeds lists from the options', async () => {
    const { send, emulator } = setup({ lists: [{ id: 'Y6nRLr', name: 'Seeded' }] });
    const created = await send('POST', '/api/lists', { data: { type: 'list', attributes: { name: 'VIP' } } });
    expect(created.status).toBe(201);
    const id = dataOf<{ id: string }>(created).id;
    expect(id).toMatch(/^[A-Za-z0-9]{6}$/);
    const read = await send('GET', `/api/lists/${id}`);
    expect(read.status).toBe(200);
    expect(dataOf<{ attributes: { name: string } }>(read).attributes.name).toBe('VIP');
    expect((await send('GET', '/api/lists/nope00')).status).toBe(404);
    expect(emulator.state().lists).toEqual([
      { id: 'Y6nRLr', name: 'Seeded', profileIds: [] },
      { id, name: 'VIP', profileIds: [] },
    ]);
    emulator.reset();
    expect(emulator.state().lists).toEqual([{ id: 'Y6nRLr', name: 'Seeded', profileIds: [] }]);
  });

  it('refuses a list without a name', async () => {
    const { send, emulator } = setup();
    const response = await send('POST', '/api/lists', { data: { type: 'list', attributes: {} } });
    expect(response.status).toBe(400);
    expect(errorOf(response).source).toEqual({ pointer: '/data/attributes/name' });
    expect(emulator.state().lists).toEqual([]);
  });

  it('adds profiles idempotently and removes them (204, no body)', async () => {
    const { send, emulator } = setup({ lists: [{ id: 'Y6nRLr', name: 'VIP' }] });
    const a = await importProfile(send, { email: 'a@example.com' });
    const b = await importProfile(send, { email: 'b@example.com' });
    const members = { data: [a, b].map((profile) => ({ type: 'profile', id: profile.id })) };
    const added = await send('POST', '/api/lists/Y6nRLr/relationships/profiles', members);
    expect(added).toEqual({ status: 204 });
    await send('POST', '/api/lists/Y6nRLr/relationships/profiles', members);
    expect(emulator.state().lists[0]?.profileIds).toEqual([a.id, b.id]);
    const removed = await send('DELETE', '/api/lists/Y6nRLr/relationships/profiles', {
      data: [{ type: 'profile', id: a.id }],
    });
    expect(removed.status).toBe(204);
    expect(emulator.state().lists[0]?.profileIds).toEqual([b.id]);
  });

  it('rejects an unknown list (404), an unknown profile (400 at /data/i/id), 0 or 1,001 items (400)', async () => {
    const { send, emulator } = setup({ lists: [{ id: 'Y6nRLr', name: 'VIP' }] });
    const a = await importProfile(send, { email: 'a@example.com' });
    const path = '/api/lists/Y6nRLr/relationships/profiles';
    const unknownList = await send('POST', '/api/lists/ZZZZZZ/relationships/profiles', {
      data: [{ type: 'profile', id: a.id }],
    });
    expect(unknownList.status).toBe(404);
    const unknownProfile = await send('POST', path, {
      data: [
        { type: 'profile', id: a.id },
        { type: 'profile', id: 'NOPE' },
      ],
    });
    expect(unknownProfile.status).toBe(400);
    expect(errorOf(unknownProfile).source).toEqual({ pointer: '/data/1/id' });
    const empty = await send('POST', path, { data: [] });
    expect(empty.status).toBe(400);
    const tooMany = await send('POST', path, {
      data: Array.from({ length: 1_001 }, () => ({ type: 'profile', id: a.id })),
    });
    expect(tooMany.status).toBe(400);
    expect(errorOf(tooMany)).toMatchObject({ source: { pointer: '/data' } });
    expect(errorOf(tooMany).detail).toContain('1000');
    const wrongType = await send('POST', path, { data: [{ type: 'list', id: a.id }] });
    expect(wrongType.status).toBe(400);
    expect(errorOf(wrongType).source).toEqual({ pointer: '/data/0/type' });
    expect(emulator.state().lists[0]?.profileIds).toEqual([]);
  });
});
