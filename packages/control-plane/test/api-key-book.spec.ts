import { openScratchStore, STORE_DRIVERS, type Store } from '@tessera/store';
import { ApiKeyBook, ControlPlaneError, ENVIRONMENT_ADMIN_KEY_ID } from '../src';

// Medium tier: the real PostgreSQL on loopback and PGlite.
describe.each(STORE_DRIVERS)('ApiKeyBook on %s', (driver) => {
  let store: Store;
  let keys: ApiKeyBook;
  let clock: Date;

  beforeEach(async () => {
    store = await openScratchStore(driver);
    clock = new Date('2026-11-24T09:00:00Z');
    keys = new ApiKeyBook(store, () => clock);
  });

  afterEach(() => store.close());

  it('shows a key once, keeps only its hash, and finds it again by the key', async () => {
    const { key, record } = await keys.create({
      name: 'Ana (CRM)',
      role: 'marketer',
      createdBy: 'key_admin',
    });
    expect(key).toMatch(/^tsk_[A-Za-z0-9_-]{43}$/);
    expect(record).toMatchObject({
      name: 'Ana (CRM)',
      role: 'marketer',
      createdBy: 'key_admin',
      revokedAt: null,
    });
    const rows = await store.query<Record<string, unknown>>('SELECT * FROM api_keys');
    expect(JSON.stringify(rows)).not.toContain(key.slice(4));
    expect((await keys.authenticate(key))?.id).toBe(record.id);
    expect(await keys.authenticate(`${key.slice(0, -1)}x`)).toBeUndefined();
    expect(await keys.authenticate('short')).toBeUndefined();
    expect((await keys.get(record.id))?.lastUsedAt).toEqual(clock);
  });

  it('stops a revoked key at once, and never revokes the last admin key', async () => {
    const admin = await keys.create({ name: 'admin', role: 'admin', createdBy: 'first-start' });
    const operator = await keys.create({ name: 'ops', role: 'operator', createdBy: admin.record.id });
    await keys.revoke(operator.record.id);
    expect(await keys.authenticate(operator.key)).toBeUndefined();
    const refused = await keys.revoke(admin.record.id).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ControlPlaneError);
    expect((refused as ControlPlaneError).message).toBe(
      `API key "${admin.record.id}" is the last admin key: create another admin key first`,
    );
    expect((await keys.authenticate(admin.key))?.role).toBe('admin');
    const unknown = await keys.revoke('key_nope').catch((error: unknown) => error);
    expect((unknown as ControlPlaneError).kind).toBe('not_found');
  });

  it('creates the first admin key once when none exists', async () => {
    const first = await keys.ensureAdmin();
    expect(first).toMatch(/^tsk_/);
    expect((await keys.authenticate(first ?? ''))?.role).toBe('admin');
    expect(await keys.ensureAdmin()).toBeUndefined();
    expect(await keys.list()).toHaveLength(1);
  });

  it('takes the admin key from TESSERA_ADMIN_KEY, replacing it when the variable changes', async () => {
    const one = 'env-admin-key-0123456789abcdef-0123456789';
    const two = 'env-admin-key-fedcba9876543210-9876543210';
    expect(await keys.ensureAdmin(one)).toBeUndefined();
    expect((await keys.authenticate(one))?.id).toBe(ENVIRONMENT_ADMIN_KEY_ID);
    await keys.ensureAdmin(two);
    expect(await keys.authenticate(one)).toBeUndefined();
    expect((await keys.authenticate(two))?.role).toBe('admin');
    const short = await keys.ensureAdmin('too-short').catch((error: unknown) => error);
    expect((short as ControlPlaneError).message).toBe('TESSERA_ADMIN_KEY must be at least 32 characters');
  });
});
