import { createHash, randomBytes } from 'node:crypto';
import type { SqlExecutor, Store } from '@tessera/store';
import { type Role } from './access-policy';
import { ControlPlaneError, notFound } from './control-plane-error';

/** An API key as it may be shown: never its secret. */
export interface ApiKeyRecord {
  id: string;
  name: string;
  role: Role;
  createdAt: Date;
  createdBy: string;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

interface KeyRow {
  id: string;
  name: string;
  role: Role;
  created_at: Date;
  created_by: string;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

const COLUMNS = 'id, name, role, created_at, created_by, last_used_at, revoked_at';
const KEY_PREFIX = 'tsk_';
/** The id a key taken from TESSERA_ADMIN_KEY is kept under. */
export const ENVIRONMENT_ADMIN_KEY_ID = 'admin-from-environment';
/** Shortest key accepted from TESSERA_ADMIN_KEY: the hash alone protects it, so it must be hard to guess. */
export const MIN_ADMIN_KEY_LENGTH = 32;
// Writing last_used_at on every request would turn reads into writes; a minute's precision is enough.
const LAST_USED_PRECISION_MS = 60_000;

const toRecord = (row: KeyRow): ApiKeyRecord => ({
  id: row.id,
  name: row.name,
  role: row.role,
  createdAt: row.created_at,
  createdBy: row.created_by,
  lastUsedAt: row.last_used_at,
  revokedAt: row.revoked_at,
});

const hashOf = (key: string) => createHash('sha256').update(key, 'utf8').digest();

/**
 * The control plane's API keys: `tsk_` + 256 random bits, shown once; only their SHA-256 is stored, and a
 * presented key is found by its hash. Keys are revoked, never deleted, so the audit log's actors stay known.
 */
export class ApiKeyBook {
  private readonly touched = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Creates a key; the returned `key` is the only time its secret exists outside the caller's hands. */
  async create(
    input: { name: string; role: Role; createdBy: string },
    executor: SqlExecutor = this.store,
  ): Promise<{ key: string; record: ApiKeyRecord }> {
    const key = KEY_PREFIX + randomBytes(32).toString('base64url');
    const id = `key_${randomBytes(6).toString('hex')}`;
    const [row] = await executor.query<KeyRow>(
      `INSERT INTO api_keys (id, name, role, secret_hash, created_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
      [id, input.name, input.role, hashOf(key), this.now(), input.createdBy],
    );
    if (row === undefined) throw new Error('INSERT … RETURNING returned no row');
    return { key, record: toRecord(row) };
  }

  /** The key a request presented, if it exists and is not revoked. */
  async authenticate(presented: string): Promise<ApiKeyRecord | undefined> {
    if (presented.length < MIN_ADMIN_KEY_LENGTH || presented.length > 512) return undefined;
    const [row] = await this.store.query<KeyRow>(
      `SELECT ${COLUMNS} FROM api_keys WHERE secret_hash = $1 AND revoked_at IS NULL`,
      [hashOf(presented)],
    );
    if (row === undefined) return undefined;
    const now = this.now();
    const last = this.touched.get(row.id) ?? row.last_used_at?.getTime() ?? 0;
    if (now.getTime() - last >= LAST_USED_PRECISION_MS) {
      this.touched.set(row.id, now.getTime());
      await this.store.query('UPDATE api_keys SET last_used_at = $2 WHERE id = $1', [row.id, now]);
    }
    return toRecord(row);
  }

  async list(): Promise<ApiKeyRecord[]> {
    const rows = await this.store.query<KeyRow>(`SELECT ${COLUMNS} FROM api_keys ORDER BY created_at, id`);
    return rows.map(toRecord);
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    const [row] = await this.store.query<KeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE id = $1`, [id]);
    return row === undefined ? undefined : toRecord(row);
  }

  /** Revokes a key; refuses to revoke the last admin key (nobody could manage keys after it). */
  async revoke(id: string, executor: SqlExecutor = this.store): Promise<ApiKeyRecord> {
    // Through the executor: inside a caller's transaction, the embedded store has one connection only.
    const [found] = await executor.query<KeyRow>(`SELECT ${COLUMNS} FROM api_keys WHERE id = $1`, [id]);
    const key = found === undefined ? undefined : toRecord(found);
    if (key === undefined) throw notFound('API key', id);
    if (key.revokedAt !== null) return key;
    if (key.role === 'admin') {
      const [row] = await executor.query<{ admins: number }>(
        `SELECT count(*)::int AS admins FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL`,
      );
      if ((row?.admins ?? 0) <= 1)
        throw new ControlPlaneError(
          'conflict',
          `API key "${id}" is the last admin key: create another admin key first`,
        );
    }
    const [row] = await executor.query<KeyRow>(
      `UPDATE api_keys SET revoked_at = $2 WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, this.now()],
    );
    if (row === undefined) throw notFound('API key', id);
    return toRecord(row);
  }

  /**
   * Makes sure an admin can sign in. With `fromEnvironment` (TESSERA_ADMIN_KEY) that key is the environment
   * admin key (its hash replaced when the variable changed); otherwise, when no admin key exists, one is
   * created and returned so that the caller can hand it over (the demo credentials file). Returns undefined
   * when nothing was created.
   */
  async ensureAdmin(fromEnvironment?: string): Promise<string | undefined> {
    if (fromEnvironment !== undefined) {
      if (fromEnvironment.length < MIN_ADMIN_KEY_LENGTH)
        throw new ControlPlaneError(
          'invalid',
          `TESSERA_ADMIN_KEY must be at least ${MIN_ADMIN_KEY_LENGTH} characters`,
        );
      await this.store.query(
        `INSERT INTO api_keys (id, name, role, secret_hash, created_at, created_by)
         VALUES ($1, 'TESSERA_ADMIN_KEY', 'admin', $2, $3, 'environment')
         ON CONFLICT (id) DO UPDATE SET secret_hash = EXCLUDED.secret_hash, revoked_at = NULL
           WHERE api_keys.secret_hash <> EXCLUDED.secret_hash OR api_keys.revoked_at IS NOT NULL`,
        [ENVIRONMENT_ADMIN_KEY_ID, hashOf(fromEnvironment), this.now()],
      );
      return undefined;
    }
    const [row] = await this.store.query<{ admins: number }>(
      `SELECT count(*)::int AS admins FROM api_keys WHERE role = 'admin' AND revoked_at IS NULL`,
    );
    if ((row?.admins ?? 0) > 0) return undefined;
    const { key } = await this.create({ name: 'first admin', role: 'admin', createdBy: 'first-start' });
    return key;
  }
}
