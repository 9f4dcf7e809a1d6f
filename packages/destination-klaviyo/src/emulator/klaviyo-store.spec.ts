import { KlaviyoStore } from './klaviyo-store';

describe('KlaviyoStore identifier lookups', () => {
  const now = Date.parse('2026-12-01T00:00:00Z');

  it('finds a profile by each identifier, and follows a change of email', () => {
    const store = new KlaviyoStore();
    const { profile } = store.upsertProfile(
      {
        type: 'profile',
        attributes: { email: 'Ada@Example.com', phone_number: '+447911123456', external_id: 'C1' },
      },
      now,
    );
    expect(store.findBy('email', 'ada@example.com')?.id).toBe(profile.id);
    expect(store.findBy('phone_number', '+447911123456')?.id).toBe(profile.id);
    expect(store.findBy('external_id', 'C1')?.id).toBe(profile.id);

    store.updateProfile(profile, { type: 'profile', attributes: { email: 'ada@new.example.com' } }, now);
    expect(store.findBy('email', 'ada@example.com')).toBeUndefined();
    expect(store.findBy('email', 'ADA@new.example.com')?.id).toBe(profile.id);
    // The old address is free again: a new profile may take it.
    const { profile: other, created } = store.upsertProfile(
      { type: 'profile', attributes: { email: 'ada@example.com' } },
      now,
    );
    expect(created).toBe(true);
    expect(store.findBy('email', 'ada@example.com')?.id).toBe(other.id);
  });

  it('forgets deleted profiles and everything on reset', () => {
    const store = new KlaviyoStore();
    const { profile } = store.upsertProfile({ type: 'profile', attributes: { external_id: 'C2' } }, now);
    store.deleteProfile(profile.id);
    expect(store.findBy('external_id', 'C2')).toBeUndefined();
    store.upsertProfile({ type: 'profile', attributes: { external_id: 'C3' } }, now);
    store.reset();
    expect(store.findBy('external_id', 'C3')).toBeUndefined();
  });

  it('finds subscribers whose identifiers were filled in by a subscription call', () => {
    const store = new KlaviyoStore();
    const profile = store.newProfile(now);
    store.fillIdentifiers(profile, { email: 'Bo@Example.com', phone_number: '+447911123457' });
    expect(store.findBy('email', 'bo@example.com')?.id).toBe(profile.id);
    expect(store.findBy('phone_number', '+447911123457')?.id).toBe(profile.id);
    // Existing identifiers are kept, as Klaviyo keeps them.
    store.fillIdentifiers(profile, { email: 'other@example.com' });
    expect(store.findBy('email', 'other@example.com')).toBeUndefined();
  });
});
