import { createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { EspSandbox } from '@tessera/destination-kit';
import { KlaviyoEmulator } from '@tessera/destination-klaviyo';
import { PgliteStore, PostgresStore, type Store } from '@tessera/store';
import { deleteKeysWithPrefix, signedHeaders, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { createScratchDatabase, waitFor, writeSportsWorkspace } from '../support/pipeline-fixture';
import { startTessera, type TesseraProcess } from '../support/tessera-process';

/** The console answers this spec reads (a DSR request, the dead letters, a replay, an error). */
interface ApiAnswer {
  id: string;
  status: string;
  letters?: { error: string }[];
  detail: { dataErased?: Record<string, number>; exportsErased?: string[] };
  [field: string]: unknown;
}

// Issue 18, item 2: after an erasure reported completed, nothing of the person is left in clear or decryptable —
// not in any table (every column, every sealed value opened with the keys derived from the master key), not in
// the PGlite folder's bytes, not under any Redis key of the deployment (jobs, windows, streams), not in the
// access export — while the other member's data is intact. The all-in-one process runs on PostgreSQL and on
// PGlite; Klaviyo is emulated here and made to refuse an update with an answer quoting it (a dead letter).

const SUBJECT = {
  customerId: 'C-ERASE-7731',
  email: 'zeferina.quixotaria@example.com',
  phone: '07911 123456',
  e164: '+447911123456',
  firstName: 'Zeferina',
  lastName: 'Quixotaria',
};
const OTHER = {
  customerId: 'C-KEEP-2002',
  email: 'bartholomew.ostrander@example.com',
  firstName: 'Bartholomew',
};

/** What must not be found anywhere, in any case: the subject's contact points (in their written forms) and names. */
const CONTACT_POINTS_AND_NAMES = [
  SUBJECT.email,
  SUBJECT.e164,
  '447911123456',
  '7911123456',
  SUBJECT.phone,
  SUBJECT.firstName,
  SUBJECT.lastName,
];
/** … nor, in any table or Redis key, their customer id (the records kept name it by its tombstone key). */
const SUBJECT_VALUES = [...CONTACT_POINTS_AND_NAMES, SUBJECT.customerId];

/** The key purposes Tessera seals with (KeyRing derives one key per purpose from the master key). */
const PURPOSES = ['pii', 'queue-payload', 'destination-tokens', 'workspace-secrets'];

/**
 * Opens any AES-256-GCM box sealed under the master key, whatever associated data it was bound to: GCM encrypts
 * in counter mode from the nonce's second block, so the keystream needs no tag nor context. Only a value sealed
 * under one of these keys comes out readable; anything else stays noise.
 */
function opener(masterKey: Buffer): (iv: Buffer, data: Buffer) => string[] {
  const keys = PURPOSES.map((purpose) =>
    Buffer.from(hkdfSync('sha256', masterKey, Buffer.alloc(0), `tessera:${purpose}`, 32)),
  );
  return (iv, data) =>
    iv.length !== 12
      ? []
      : keys.map((key) => {
          const counter = Buffer.concat([iv, Buffer.from([0, 0, 0, 2])]);
          const decipher = createDecipheriv('aes-256-ctr', key, counter);
          return Buffer.concat([decipher.update(data), decipher.final()]).toString('utf8');
        });
}

const BASE64 = /^[A-Za-z0-9+/_-]{40,}={0,2}$/;

/** Every readable text in a value, sealed ones opened: strings, packed boxes (base64 or bytes), JSON boxes. */
function reveal(value: unknown, open: (iv: Buffer, data: Buffer) => string[], out: string[] = []): string[] {
  const packed = (bytes: Buffer) => {
    if (bytes.length > 28) out.push(...open(bytes.subarray(0, 12), bytes.subarray(28)));
  };
  if (typeof value === 'string') {
    out.push(value);
    const text = value.includes(':') ? value.slice(value.indexOf(':') + 1) : value;
    if (BASE64.test(text)) packed(Buffer.from(text, 'base64'));
    if (value.startsWith('{') || value.startsWith('[')) {
      try {
        reveal(JSON.parse(value), open, out);
      } catch {
        // not JSON
      }
    }
  } else if (Buffer.isBuffer(value) || value instanceof Uint8Array) {
    const bytes = Buffer.from(value);
    out.push(bytes.toString('utf8'));
    packed(bytes);
  } else if (Array.isArray(value)) {
    for (const entry of value) reveal(entry, open, out);
  } else if (typeof value === 'object' && value !== null) {
    const box = value as Record<string, unknown>;
    if (typeof box['iv'] === 'string' && typeof box['data'] === 'string')
      out.push(...open(Buffer.from(box['iv'], 'base64'), Buffer.from(box['data'], 'base64')));
    for (const entry of Object.values(box)) reveal(entry, open, out);
  } else if (value !== null && value !== undefined) out.push(String(value));
  return out;
}

/** Every row of every table, revealed: what a dump (and the master key) would give. */
async function scanDatabase(store: Store, open: (iv: Buffer, data: Buffer) => string[]): Promise<string> {
  const tables = await store.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
  );
  const parts: string[] = [];
  for (const { table_name } of tables) {
    const rows = await store.query(`SELECT * FROM ${table_name}`);
    parts.push(`== ${table_name}`, ...reveal(rows, open));
  }
  return parts.join('\n');
}

/** The lookup keys of erased identifiers keyed by their value (customer ids, member ids, cards, devices). */
const erasedAnchorKeys = async (store: Store) =>
  (
    await store.query<{ lookup_key: string }>(
      "SELECT lookup_key FROM identity_identifiers WHERE quarantined_reason = 'erased' AND is_anchor ORDER BY lookup_key",
    )
  ).map((row) => row.lookup_key);

/** Every key under the prefix, every value of every type (streams and hashes included), revealed. */
async function scanRedis(redis: Redis, prefix: string, open: (iv: Buffer, data: Buffer) => string[]) {
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
    cursor = next;
    for (const key of keys) {
      const type = await redis.type(key);
      const values: unknown[] = [key];
      if (type === 'string') values.push(await redis.get(key));
      else if (type === 'hash') values.push(Object.entries(await redis.hgetall(key)).flat());
      else if (type === 'list') values.push(await redis.lrange(key, 0, -1));
      else if (type === 'set') values.push(await redis.smembers(key));
      else if (type === 'zset') values.push(await redis.zrange(key, 0, -1));
      else if (type === 'stream')
        values.push((await redis.xrange(key, '-', '+')).map(([, fields]) => fields));
      parts.push(`== ${key}`, ...reveal(values, open));
    }
  } while (cursor !== '0');
  return parts.join('\n');
}

/** Every file under a folder, as bytes read as Latin-1 (a byte-exact grep). */
function folderBytes(dir: string): string {
  const parts: string[] = [];
  const walk = (path: string) => {
    for (const entry of readdirSync(path)) {
      const full = join(path, entry);
      if (statSync(full).isDirectory()) walk(full);
      else parts.push(readFileSync(full).toString('latin1'));
    }
  };
  walk(dir);
  return parts.join('\n');
}

const found = (text: string, values: readonly string[]) =>
  values.filter((value) => text.toLowerCase().includes(value.toLowerCase()));

/** Each value found, with what surrounds its first occurrence (which table or key, which field): a failure says where. */
const leaks = (text: string, values: readonly string[]) =>
  found(text, values).map((value) => {
    const at = text.toLowerCase().indexOf(value.toLowerCase());
    const table = text.lastIndexOf('\n== ', at);
    return `${value} in ${text.slice(table + 1, text.indexOf('\n', table + 1))}: …${text.slice(Math.max(0, at - 120), at + value.length + 40)}…`;
  });

describe.each(['postgres', 'pglite'] as const)(
  'erasure leaves nothing of the person behind (%s)',
  (driver) => {
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    const prefix = uniqueRedisPrefix();
    const dataDir = mkdtempSync(join(tmpdir(), `tessera-erasure-${driver}-`));
    const masterKey = randomBytes(32);
    const adminKey = `tsk_${randomBytes(32).toString('base64url')}`;
    const redis = new Redis(TEST_REDIS_URL);
    const klaviyo = new KlaviyoEmulator();
    const sandbox = new EspSandbox([klaviyo], { limitsLifted: true, record: true });
    const open = opener(masterKey);
    let database: { url: string; drop(): Promise<void> } | undefined;
    let tessera: TesseraProcess | undefined;
    let sequence = 0;

    beforeAll(async () => {
      const root = await sandbox.listen();
      const workspaceFile = writeSportsWorkspace(dataDir, secret, [
        // The brand syncs members in full without a grant: the person's name and points reach Klaviyo (and
        // its dead letters), which is what the erasure must then take back.
        { type: 'klaviyo', settings: { apiKey: 'pk_e2e', baseUrl: `${root}/klaviyo`, withoutGrant: 'full' } },
      ]);
      if (driver === 'postgres') database = await createScratchDatabase('erasure');
      tessera = await startTessera(
        {
          REDIS_URL: TEST_REDIS_URL,
          TESSERA_REDIS_PREFIX: prefix,
          TESSERA_DATA_DIR: dataDir,
          ...(database === undefined ? {} : { DATABASE_URL: database.url }),
          TESSERA_WORKSPACE_FILE: workspaceFile,
          TESSERA_MASTER_KEY: masterKey.toString('base64'),
          TESSERA_ADMIN_KEY: adminKey,
          TESSERA_DEMO: 'off',
          // The emulated Klaviyo listens on loopback.
          TESSERA_ALLOWED_DESTINATION_HOSTS: '127.0.0.1',
        },
        [],
        60_000,
      );
    }, 90_000);

    afterAll(async () => {
      await tessera?.stop();
      await sandbox.close();
      await deleteKeysWithPrefix(redis, prefix);
      await redis.quit();
      await database?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    });

    const api = async (method: string, path: string, body?: unknown) => {
      const response = await fetch(`${tessera?.baseUrl}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${adminKey}`,
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      return {
        status: response.status,
        text,
        body: (text === '' ? undefined : JSON.parse(text)) as ApiAnswer,
      };
    };

    const event = (type: string, data: Record<string, unknown>, id = `evt-${driver}-${++sequence}`) => ({
      specversion: '1.0',
      id,
      source: 'https://loyalty.example.com',
      type,
      time: new Date(Date.UTC(2026, 10, 24, 10, 0, sequence)).toISOString(),
      data,
    });

    async function send(events: unknown[]): Promise<void> {
      const body = JSON.stringify(events);
      const response = await fetch(`${tessera?.baseUrl}/v1/sources/sd-loyalty/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/cloudevents-batch+json', ...signedHeaders(secret, body) },
        body,
      });
      expect(response.status).toBe(202);
    }

    const subjectProfile = (lastName: string) =>
      event('profile.updated', {
        customer_id: SUBJECT.customerId,
        email: SUBJECT.email,
        phone: SUBJECT.phone,
        first_name: SUBJECT.firstName,
        last_name: lastName,
      });

    it('ingests, delivers, dead-letters and exports the subject, erases them, and keeps only a tombstone', async () => {
      const firstEvent = subjectProfile(SUBJECT.lastName);
      await send([
        firstEvent,
        event('points.updated', {
          customer_id: SUBJECT.customerId,
          email: SUBJECT.email,
          delta: 120,
          new_balance: 1840,
          reason: 'purchase',
        }),
        event('profile.updated', {
          customer_id: OTHER.customerId,
          email: OTHER.email,
          first_name: OTHER.firstName,
        }),
      ]);
      await waitFor(
        () =>
          klaviyo.findProfile({ externalId: SUBJECT.customerId }) !== undefined &&
          klaviyo.findProfile({ externalId: OTHER.customerId }) !== undefined,
        Boolean,
        'both members at Klaviyo',
        30_000,
      );

      // Klaviyo refuses the next update, quoting it: a dead letter whose stored error is masked.
      sandbox.injectFault('klaviyo', { kind: 'echo-rejection', status: 400, times: 50 });
      await send([
        event('points.updated', {
          customer_id: SUBJECT.customerId,
          email: SUBJECT.email,
          phone: SUBJECT.phone,
          delta: 5,
          new_balance: 1845,
          reason: 'purchase',
        }),
      ]);
      const letters = await waitFor(
        async () => (await api('GET', '/v1/dead-letters')).body?.letters as { error: string }[] | undefined,
        (list) => (list ?? []).length > 0,
        'a dead letter',
        30_000,
      );
      sandbox.clearFaults('klaviyo');
      const letterText = JSON.stringify(letters);
      expect(letterText).toContain('Invalid request (sandbox fault)');
      expect(found(letterText, CONTACT_POINTS_AND_NAMES)).toEqual([]);

      // An access export, downloadable.
      const access = await api('POST', '/v1/dsr', { type: 'access', email: SUBJECT.email });
      expect(access.status).toBe(201);
      await waitFor(
        async () => (await api('GET', `/v1/dsr/${access.body.id}`)).body?.status,
        (status) => status === 'completed',
        'the access export',
        30_000,
      );
      const exported = await api('GET', `/v1/dsr/${access.body.id}/export`);
      expect(exported.status).toBe(200);
      expect(exported.text).toContain(SUBJECT.email);

      // The erasure.
      const erasure = await api('POST', '/v1/dsr', { type: 'erasure', email: SUBJECT.email });
      expect(erasure.status).toBe(201);
      const done = await waitFor(
        async () => (await api('GET', `/v1/dsr/${erasure.body.id}`)).body,
        (request) => request?.status === 'completed',
        'the erasure',
        60_000,
      );
      expect(done.detail.dataErased).toMatchObject({ rawEvents: 3, deadLetters: 1 });
      expect(done.detail.exportsErased).toEqual([access.body.id]);
      expect(klaviyo.findProfile({ externalId: SUBJECT.customerId })).toBeUndefined();

      // The export is gone, and says so.
      const gone = await api('GET', `/v1/dsr/${access.body.id}/export`);
      expect(gone.status).toBe(410);
      expect(gone.body).toEqual({
        error: 'gone',
        message: `the export of DSR request ${access.body.id} was deleted: its subject was erased (request ${erasure.body.id})`,
      });
      expect(readdirSync(join(dataDir, 'exports'))).toEqual([]);

      // A replay sends nothing of them: their letters went with the erasure.
      const requestsBefore = sandbox.exchanges('klaviyo').length;
      const replay = await api('POST', '/v1/dead-letters/replay', { all: true });
      expect(replay.status).toBe(200);
      expect(replay.body).toMatchObject({ replayed: 0 });

      // The source retries the first event after the ingest's dedupe window (its marks expired): accepted by the
      // intake, recognised by the tombstone, never stored, resolved nor sent again.
      for (const key of await redis.keys(`${prefix}:seen:*`)) await redis.del(key);
      await send([firstEvent]);
      // And a new event of theirs, with their name (issue 19, item 6): the erased person stays erased — no profile,
      // no contact re-created at the ESP, nothing of it kept.
      await send([
        event('profile.updated', {
          customer_id: SUBJECT.customerId,
          email: SUBJECT.email,
          first_name: SUBJECT.firstName,
          last_name: SUBJECT.lastName,
        }),
      ]);
      await waitFor(
        async () => (await fetch(`${tessera?.baseUrl}/metrics`)).text(),
        (text) => /tessera_stage_events_total\{[^}]*outcome="erased"[^}]*\} 2\b/.test(text),
        'the retried event and the new one recognised as erased',
        30_000,
      );
      // Given the time a delivery would take (windows of 2 s), nothing reached Klaviyo.
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(klaviyo.findProfile({ externalId: SUBJECT.customerId })).toBeUndefined();
      expect(sandbox.exchanges('klaviyo')).toHaveLength(requestsBefore);
      expect((await api('GET', `/v1/profiles/${encodeURIComponent(`email:${SUBJECT.email}`)}`)).status).toBe(
        404,
      );
      expect(
        (await api('GET', `/v1/profiles/${encodeURIComponent(`customer_id:${SUBJECT.customerId}`)}`)).status,
      ).toBe(404);

      // Redis: every key of the deployment, sealed values opened.
      const inRedis = await scanRedis(redis, prefix, open);
      expect(leaks(inRedis, SUBJECT_VALUES)).toEqual([]);

      // The store: every table, every sealed value opened; the other member is intact.
      const reader =
        driver === 'postgres'
          ? new PostgresStore((database as { url: string }).url, { maxConnections: 1 })
          : undefined;
      if (reader !== undefined) {
        const inStore = await scanDatabase(reader, open);
        // The erased customer id is a tombstone keyed by its blind index, not by its value.
        expect(await erasedAnchorKeys(reader)).toEqual([expect.stringMatching(/^erased:[0-9a-f]{32}$/)]);
        await reader.close();
        expect(leaks(inStore, SUBJECT_VALUES)).toEqual([]);
        expect(found(inStore, [OTHER.email, OTHER.firstName, OTHER.customerId])).toHaveLength(3);
      } else {
        await tessera?.stop();
        tessera = undefined;
        // The folder's bytes, every file (PGlite's pages and WAL, the exports folder, the key file's neighbours):
        // the erasure rewrote the tables and moved the write-ahead log on, so no deleted row of the person is left,
        // not even their customer id.
        expect(leaks(folderBytes(dataDir), SUBJECT_VALUES)).toEqual([]);
        const pglite = await PgliteStore.open(join(dataDir, 'pglite'));
        const inStore = await scanDatabase(pglite, open);
        expect(await erasedAnchorKeys(pglite)).toEqual([expect.stringMatching(/^erased:[0-9a-f]{32}$/)]);
        await pglite.close();
        expect(leaks(inStore, SUBJECT_VALUES)).toEqual([]);
        expect(found(inStore, [OTHER.email, OTHER.firstName, OTHER.customerId])).toHaveLength(3);
      }
    }, 240_000);
  },
);
