import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { EspSandbox } from '@tessera/destination-kit';
import { KlaviyoEmulator } from '@tessera/destination-klaviyo';
import { newWebhookSecret } from '@tessera/runtime';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { waitFor } from '../support/pipeline-fixture';
import type { TesseraProcess } from '../support/tessera-process';
import { sendSignedBatch, startWorkspaceTessera } from '../support/workspace-tessera';

interface Lineage {
  id: number;
  kind: string;
  winner: string;
  loser: string;
  basis: string | null;
  eventId: string | null;
  revertedBy: number | null;
}
interface Profile {
  customerId: string;
  identifiers: { type: string; brand?: string; value: string }[];
  lineage: Lineage[];
  history: { id: string; type: string; customerId: string }[];
}

/**
 * Issue 19, items 2 and 3, through signed ingest in the all-in-one process: a showroom guest's events, then the
 * member's `account.linked` naming the guest's anonymous id — one profile with the guest's history and the
 * link in lineage, undone by unmerging its lineage id; and a new member id joining through a shared email,
 * in lineage with its basis and undone the same way.
 */
describe('account links and joins, end to end', () => {
  const secret = newWebhookSecret();
  const prefix = uniqueRedisPrefix();
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-link-'));
  const adminKey = `tsk_${randomBytes(32).toString('base64url')}`;
  const redis = new Redis(TEST_REDIS_URL);
  const klaviyo = new KlaviyoEmulator();
  const sandbox = new EspSandbox([klaviyo], { limitsLifted: true });
  let tessera: TesseraProcess;

  beforeAll(async () => {
    const root = await sandbox.listen();
    const workspaceFile = join(dataDir, 'workspace.json');
    writeFileSync(
      workspaceFile,
      JSON.stringify({
        brands: [{ id: 'grp', name: 'Group', defaultCountry: 'GB' }],
        sources: [
          { id: 'showroom', brand: 'grp', secrets: [secret] },
          { id: 'loyalty', brand: 'grp', secrets: [secret] },
        ],
        destinations: [
          {
            id: 'grp-klaviyo',
            brand: 'grp',
            type: 'klaviyo',
            settings: { apiKey: 'pk_e2e', baseUrl: `${root}/klaviyo` },
            mappings: { mappings: { first_name: 'profile.?first_name.orValue("")' } },
          },
        ],
      }),
    );
    tessera = await startWorkspaceTessera({
      prefix,
      dataDir,
      workspaceFile,
      env: { TESSERA_ADMIN_KEY: adminKey, TESSERA_ALLOWED_DESTINATION_HOSTS: '127.0.0.1' },
      startTimeoutMs: 60_000,
    });
  }, 90_000);

  afterAll(async () => {
    await tessera?.stop();
    await sandbox.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function send(source: string, events: object[]): Promise<void> {
    expect(await sendSignedBatch(tessera.baseUrl, source, secret, events)).toEqual({ status: 202, body: '' });
  }

  let minute = 0;
  const event = (id: string, type: string, data: object) => ({
    specversion: '1.0',
    id,
    source: 'https://group.example.com',
    type,
    time: `2026-11-24T09:${String(++minute).padStart(2, '0')}:00Z`,
    data,
  });

  async function api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
    const response = await fetch(`${tessera.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${adminKey}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as T };
  }
  const profile = async (reference: string) =>
    (await api<Profile>('GET', `/v1/profiles/${encodeURIComponent(reference)}`)).body;

  it("links the guest's showroom history to the member, and unmerging the link's lineage id separates them", async () => {
    await send('showroom', [
      event('sr-1', 'showroom.viewed_3d_model', {
        anonymous_id: 'anon-e2e-1',
        showroom_id: 'S1',
        product_id: 'P1',
      }),
      event('sr-2', 'showroom.tried_variant', {
        anonymous_id: 'anon-e2e-1',
        showroom_id: 'S1',
        product_id: 'P1',
        variant_id: 'V2',
      }),
    ]);
    await send('loyalty', [
      event('pu-1', 'profile.updated', { customer_id: 'C1', email: 'ana@example.com', first_name: 'Ana' }),
    ]);
    const guest = await waitFor(
      () => profile('anonymous_id:anon-e2e-1'),
      (found) => found.history?.length === 2,
      "the guest's two showroom events",
    );
    expect(guest.customerId).not.toBe('C1');
    await waitFor(
      () => profile('customer_id:C1'),
      (found) => found.history?.length === 1,
      "the member's own event",
    );

    await send('loyalty', [
      event('al-1', 'account.linked', {
        customer_id: 'C1',
        link: { anonymous_id: 'anon-e2e-1' },
        method: 'login',
      }),
    ]);

    const linked = await waitFor(
      () => profile('anonymous_id:anon-e2e-1'),
      (found) => found.customerId === 'C1' && found.history.length === 4,
      'one profile with the guest history',
    );
    expect(linked.history.map((entry) => entry.id).sort()).toEqual(['al-1', 'pu-1', 'sr-1', 'sr-2']);
    expect(linked.identifiers.map((identifier) => identifier.type).sort()).toEqual([
      'anonymous_id',
      'customer_id',
      'email',
    ]);
    expect(linked.lineage).toEqual([
      expect.objectContaining({
        kind: 'merge',
        winner: 'C1',
        loser: guest.customerId,
        basis: 'account.linked',
        eventId: 'al-1',
        revertedBy: null,
      }),
    ]);

    // Wrong guest: the operator reverses the link by its lineage id.
    const unmerged = await api<{ splits: unknown[] }>('POST', '/v1/profiles/unmerge', {
      lineageId: linked.lineage[0].id,
      reason: 'linked the wrong guest',
    });
    expect(unmerged.status).toBe(200);
    expect(unmerged.body.splits).toHaveLength(1);
    const member = await profile('customer_id:C1');
    expect(member.identifiers.map((identifier) => identifier.type).sort()).toEqual(['customer_id', 'email']);
    expect(member.history.map((entry) => entry.id).sort()).toEqual(['al-1', 'pu-1']);
    expect(member.lineage.find((row) => row.id === linked.lineage[0].id)?.revertedBy).toEqual(
      expect.any(Number),
    );
    const apart = await profile('anonymous_id:anon-e2e-1');
    expect(apart.customerId).not.toBe('C1');
    expect(apart.identifiers.map((identifier) => identifier.type)).toEqual(['anonymous_id']);

    // The ESP knows the member alone, never a contact for the guest.
    const atKlaviyo = await waitFor(
      () => klaviyo.state().profiles.map((found) => found.attributes.external_id),
      (ids) => ids.includes('C1'),
      'the member at Klaviyo',
    );
    // The member, with the email; the guest's anonymous contact (synced while it browsed) is the only other one:
    // whatever Klaviyo holds of it, no other contact gets the member's email.
    expect(klaviyo.findProfile({ externalId: 'C1' })?.attributes).toMatchObject({ email: 'ana@example.com' });
    expect(atKlaviyo.filter((id) => id !== 'C1')).toEqual(
      atKlaviyo.filter((id) => id === guest.customerId || id === apart.customerId),
    );
    expect(
      klaviyo.state().profiles.filter((found) => found.attributes.email === 'ana@example.com'),
    ).toHaveLength(1);
  }, 120_000);

  it('records a new member id joining through a shared email, and undoes it by its lineage id', async () => {
    await send('loyalty', [event('pu-2', 'profile.updated', { customer_id: 'C2', email: 'bo@example.com' })]);
    await waitFor(
      () => api<Profile>('GET', `/v1/profiles/${encodeURIComponent('customer_id:C2')}`),
      (found) => found.status === 200,
      'member C2',
    );
    await send('loyalty', [
      event('pu-3', 'profile.updated', {
        member_id: 'M77',
        brand: 'grp',
        email: 'bo@example.com',
        first_name: 'Bo',
      }),
    ]);

    const joined = await waitFor(
      () => profile('member.grp:M77'),
      (found) => found.customerId === 'C2',
      'M77 joined to C2',
    );
    const join = joined.lineage.find((row) => row.kind === 'join');
    expect(join).toEqual(
      expect.objectContaining({ winner: 'C2', basis: 'shared email', eventId: 'pu-3', revertedBy: null }),
    );

    const undone = await api<{ splits: unknown[] }>('POST', '/v1/profiles/unmerge', {
      lineageId: join?.id,
      reason: 'a family email',
    });
    expect(undone.status).toBe(200);
    const alone = await profile('member.grp:M77');
    expect(alone.customerId).not.toBe('C2');
    expect(alone.customerId).toBe(join?.loser);
    expect(alone.identifiers.map((identifier) => identifier.type)).toEqual(['member']);
    const c2 = await profile('customer_id:C2');
    expect(c2.identifiers.map((identifier) => identifier.type).sort()).toEqual(['customer_id', 'email']);
    expect(c2.lineage.find((row) => row.id === join?.id)?.revertedBy).toEqual(expect.any(Number));
  }, 90_000);
});
