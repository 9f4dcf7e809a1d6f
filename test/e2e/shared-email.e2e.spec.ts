import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { BrazeEmulator } from '@tessera/destination-braze';
import { EspSandbox } from '@tessera/destination-kit';
import { KlaviyoEmulator } from '@tessera/destination-klaviyo';
import { newWebhookSecret } from '@tessera/runtime';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { waitFor } from '../support/pipeline-fixture';
import type { TesseraProcess } from '../support/tessera-process';
import { sendSignedBatch, startWorkspaceTessera } from '../support/workspace-tessera';

interface SharedPoint {
  type: string;
  value: string;
  customerId?: string;
  heldBy: string;
  anchor: string;
  reason: string;
  count: number;
}
interface Profile {
  customerId: string;
  identifiers: { type: string; brand?: string; value: string }[];
  sharedContactPoints: SharedPoint[];
}

const FAMILY = 'the.okafors@example.com';
const REASON = 'shared by two members anchored by member.sd: links nothing';

/**
 * Issue 19 item 10, through signed ingest in the all-in-one process: two members of one brand with one family
 * email stay apart; the second member's profile shows the email as shared, linking nothing, and the console
 * lists the case; Klaviyo and Braze hold the email on the first member only.
 */
describe('a family email shared by two members, end to end', () => {
  const secret = newWebhookSecret();
  const prefix = uniqueRedisPrefix();
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-shared-email-'));
  const adminKey = `tsk_${randomBytes(32).toString('base64url')}`;
  const redis = new Redis(TEST_REDIS_URL);
  const klaviyo = new KlaviyoEmulator({ jobCompletionMs: 0 });
  const braze = new BrazeEmulator();
  const sandbox = new EspSandbox([klaviyo, braze], { limitsLifted: true });
  let tessera: TesseraProcess;
  let marketerKey = '';

  beforeAll(async () => {
    const root = await sandbox.listen();
    const workspaceFile = join(dataDir, 'workspace.json');
    const mappings = { mappings: { first_name: 'profile.?first_name.orValue("")' } };
    writeFileSync(
      workspaceFile,
      JSON.stringify({
        brands: [{ id: 'sd', name: 'Sports Direct', defaultCountry: 'GB' }],
        sources: [{ id: 'sd-loyalty', brand: 'sd', secrets: [secret] }],
        destinations: [
          {
            id: 'sd-klaviyo',
            brand: 'sd',
            type: 'klaviyo',
            settings: { apiKey: 'pk_e2e', baseUrl: `${root}/klaviyo`, windowMs: 0, withoutGrant: 'full' },
            mappings,
          },
          {
            id: 'sd-braze',
            brand: 'sd',
            type: 'braze',
            settings: { apiKey: 'braze-e2e', baseUrl: `${root}/braze`, windowMs: 0, withoutGrant: 'full' },
            mappings,
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
    const created = await api<{ key: string }>('POST', '/v1/api-keys', adminKey, {
      name: 'marketer',
      role: 'marketer',
    });
    marketerKey = created.body.key;
  }, 90_000);

  afterAll(async () => {
    await tessera?.stop();
    await sandbox.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function send(events: object[]): Promise<void> {
    expect(await sendSignedBatch(tessera.baseUrl, 'sd-loyalty', secret, events)).toEqual({
      status: 202,
      body: '',
    });
  }

  const event = (id: string, minute: number, data: object) => ({
    specversion: '1.0',
    id,
    source: 'https://loyalty.example.com',
    type: 'profile.updated',
    time: `2026-11-24T09:${String(minute).padStart(2, '0')}:00Z`,
    data,
  });

  async function api<T>(
    method: string,
    path: string,
    key: string,
    body?: unknown,
  ): Promise<{ status: number; body: T }> {
    const response = await fetch(`${tessera.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: response.status, body: (await response.json()) as T };
  }
  const profile = async (reference: string, key = adminKey) =>
    (await api<Profile>('GET', `/v1/profiles/${encodeURIComponent(reference)}`, key)).body;

  it('keeps the two members apart, marks the email shared on the second, lists it, and the ESPs hold it once', async () => {
    await send([
      event('fam-1', 1, { member_id: 'SD-OK-1', brand: 'sd', email: FAMILY, first_name: 'Ngozi' }),
    ]);
    const first = await waitFor(
      () => profile('member.sd:SD-OK-1'),
      (found) => found.customerId !== undefined,
      'the first member',
    );
    // The second member sends the same email, padded and capitalised as a form might.
    await send([
      event('fam-2', 2, {
        member_id: 'SD-OK-2',
        brand: 'sd',
        email: ' The.Okafors@Example.com',
        first_name: 'Chidi',
      }),
    ]);
    const second = await waitFor(
      () => profile('member.sd:SD-OK-2'),
      (found) => found.customerId !== undefined && found.sharedContactPoints?.length === 1,
      'the second member, the email marked shared',
    );
    expect(second.customerId).not.toBe(first.customerId);
    expect(first.identifiers.map((identifier) => identifier.value)).toEqual(['SD-OK-1', FAMILY]);
    expect(first.sharedContactPoints).toEqual([]);
    expect(second.identifiers.map((identifier) => identifier.value)).toEqual(['SD-OK-2']);
    expect(second.sharedContactPoints).toEqual([
      expect.objectContaining({
        type: 'email',
        value: FAMILY,
        heldBy: first.customerId,
        anchor: 'member.sd',
        reason: REASON,
        count: 1,
      }),
    ]);
    // The email still finds the first member only.
    expect((await profile(`email:${FAMILY}`)).customerId).toBe(first.customerId);
    // A marketer sees the same, masked.
    const masked = await profile('member.sd:SD-OK-2', marketerKey);
    expect(masked.sharedContactPoints.map((point) => point.value)).toEqual(['t***@example.com']);
    expect(JSON.stringify(masked)).not.toContain('okafors');

    // The console's listing: the case once, even after the second member's event is replayed.
    await send([
      event('fam-2', 2, {
        member_id: 'SD-OK-2',
        brand: 'sd',
        email: ' The.Okafors@Example.com',
        first_name: 'Chidi',
      }),
    ]);
    const listed = await api<{
      sharedIdentifiers: Array<SharedPoint & { customerId: string }>;
      nextAfter: null;
    }>('GET', '/v1/identity/shared-identifiers?limit=10', marketerKey);
    expect(listed.status).toBe(200);
    expect(listed.body).toEqual({
      sharedIdentifiers: [
        expect.objectContaining({
          value: 't***@example.com',
          customerId: second.customerId,
          heldBy: first.customerId,
          reason: REASON,
          count: 1,
        }),
      ],
      nextAfter: null,
    });
    expect(
      (await api<{ message: string }>('GET', '/v1/identity/shared-identifiers?limit=0', marketerKey)).body
        .message,
    ).toBe('?/limit must be >= 1');

    // Each ESP: the email on the first member only; the second member is there under its own id, without it.
    const atKlaviyo = await waitFor(
      () => {
        klaviyo.completeJobs();
        return klaviyo.state().profiles;
      },
      (profiles) =>
        [first.customerId, second.customerId].every((id) =>
          profiles.some((entry) => entry.attributes.external_id === id),
        ),
      'both members at Klaviyo',
    );
    const klaviyoOf = (id: string) => atKlaviyo.find((entry) => entry.attributes.external_id === id);
    expect(klaviyoOf(first.customerId)?.attributes).toMatchObject({ email: FAMILY, first_name: 'Ngozi' });
    expect(klaviyoOf(second.customerId)?.attributes).toMatchObject({ first_name: 'Chidi' });
    expect(klaviyoOf(second.customerId)?.attributes.email ?? null).toBeNull();
    expect(atKlaviyo.filter((entry) => entry.attributes.email === FAMILY)).toHaveLength(1);

    const atBraze = await waitFor(
      () => braze.state().users,
      (users) =>
        [first.customerId, second.customerId].every((id) => users.some((user) => user.external_id === id)),
      'both members at Braze',
    );
    const brazeOf = (id: string) => atBraze.find((user) => user.external_id === id);
    expect(brazeOf(first.customerId)?.email).toBe(FAMILY);
    expect(brazeOf(second.customerId)?.email).toBeUndefined();
    expect(atBraze.filter((user) => user.email === FAMILY)).toHaveLength(1);
  }, 120_000);
});
