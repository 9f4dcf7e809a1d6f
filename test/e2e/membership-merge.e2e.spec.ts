import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { BrazeEmulator } from '@tessera/destination-braze';
import { EspSandbox } from '@tessera/destination-kit';
import { KlaviyoEmulator } from '@tessera/destination-klaviyo';
import { MailchimpEmulator } from '@tessera/destination-mailchimp';
import { SfmcEmulator } from '@tessera/destination-sfmc';
import { newWebhookSecret } from '@tessera/runtime';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { waitFor } from '../support/pipeline-fixture';
import type { TesseraProcess } from '../support/tessera-process';
import { sendSignedBatch, startWorkspaceTessera } from '../support/workspace-tessera';

// Issue 19 item 5: a platform `membership.merged` must leave one contact for the survivor at every ESP that held
// both members — Klaviyo merges the profiles, Mailchimp archives the retired member, SFMC removes the retired
// contact key, Braze merges the users — once the merge cooling-off (0 here) has passed.

describe('a platform membership.merged reaches every ESP that holds both members', () => {
  const secret = newWebhookSecret();
  const prefix = uniqueRedisPrefix();
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-merge-'));
  const redis = new Redis(TEST_REDIS_URL);
  const klaviyo = new KlaviyoEmulator({ jobCompletionMs: 0 });
  const braze = new BrazeEmulator();
  const mailchimp = new MailchimpEmulator();
  const sfmc = new SfmcEmulator({
    config: {
      clients: [{ clientId: 'tessera-client', clientSecret: 'tessera-secret', accountId: '100000001' }],
      dataExtensions: [
        {
          key: 'TesseraProfiles',
          primaryKeys: ['TesseraId'],
          columns: [
            { name: 'TesseraId', type: 'Text', maxLength: 254, required: true },
            { name: 'EmailAddress', type: 'EmailAddress' },
            { name: 'Phone', type: 'Phone' },
            { name: 'FirstName', type: 'Text', maxLength: 100 },
            { name: 'LastName', type: 'Text', maxLength: 100 },
            { name: 'loyalty_tier', type: 'Text', maxLength: 50 },
            { name: 'points_balance', type: 'Number' },
          ],
        },
      ],
    },
  });
  const sandbox = new EspSandbox([klaviyo, braze, mailchimp, sfmc], { limitsLifted: true });
  let tessera: TesseraProcess;

  beforeAll(async () => {
    const root = await sandbox.listen();
    mailchimp.configure({
      audiences: [
        {
          id: 'sd-members',
          name: 'SD members',
          mergeFields: [
            { tag: 'FNAME', type: 'text', name: 'First Name' },
            { tag: 'TESSERA_ID', type: 'text', name: 'Tessera customer id' },
            { tag: 'POINTS', type: 'number', name: 'Points balance' },
          ],
        },
      ],
    });
    const mappings = { mappings: { points_balance: 'profile.?points_balance.orValue(0)' } };
    // Every destination merges at once: the cooling-off (default 24 h) is set to 0 for the test.
    const common = { windowMs: 0, mergeCoolingOffMinutes: 0 };
    const workspaceFile = join(dataDir, 'workspace.json');
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
            settings: { apiKey: 'pk_e2e', baseUrl: `${root}/klaviyo`, ...common },
            mappings,
          },
          {
            id: 'sd-braze',
            brand: 'sd',
            type: 'braze',
            settings: { apiKey: 'braze-e2e', baseUrl: `${root}/braze`, ...common },
            mappings,
          },
          {
            id: 'sd-mailchimp',
            brand: 'sd',
            type: 'mailchimp',
            settings: {
              apiKey: '0123456789abcdef0123456789abcdef-us21',
              listId: 'sd-members',
              baseUrl: `${root}/mailchimp`,
              mergeFieldMapping: { points_balance: 'POINTS' },
              ...common,
            },
            mappings,
          },
          {
            id: 'sd-sfmc',
            brand: 'sd',
            type: 'sfmc',
            settings: {
              subdomain: 'mc563885gzs27c5t9-63k636ttgm',
              clientId: 'tessera-client',
              clientSecret: 'tessera-secret',
              accountId: '100000001',
              dataExtensionKey: 'TesseraProfiles',
              baseUrl: `${root}/sfmc`,
              authBaseUrl: `${root}/sfmc`,
              soapBaseUrl: `${root}/sfmc`,
              ...common,
            },
            mappings,
          },
        ],
      }),
    );
    tessera = await startWorkspaceTessera({ prefix, dataDir, workspaceFile });
  }, 60_000);

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

  const event = (id: string, type: string, time: string, data: object) => ({
    specversion: '1.0',
    id,
    source: 'https://loyalty.example.com',
    type,
    time,
    data,
  });
  const grant = (id: string, customerId: string, email: string) =>
    event(id, 'consent.changed', '2026-11-24T08:00:00Z', {
      customer_id: customerId,
      email,
      brand: 'sd',
      channel: 'email',
      status: 'granted',
      legal_basis: 'consent',
      captured_at: '2026-11-24T08:00:00Z',
      notice_version: 'v3',
    });
  const points = (id: string, customerId: string, email: string, balance: number) =>
    event(id, 'points.updated', '2026-11-24T09:00:00Z', {
      customer_id: customerId,
      email,
      delta: balance,
      new_balance: balance,
      reason: 'purchase',
    });

  const deliveredAt = async (destination: string): Promise<number> => {
    const text = await (await fetch(`${tessera.baseUrl}/metrics`)).text();
    const match = new RegExp(
      `tessera_deliveries_total\\{destination="${destination}",status="delivered"\\} (\\d+)`,
    ).exec(text);
    return Number(match?.[1] ?? 0);
  };

  it('leaves one contact for the survivor at Klaviyo, Mailchimp, SFMC and Braze', async () => {
    await send([
      grant('g-kept', 'C-KEPT', 'kept@example.com'),
      grant('g-gone', 'C-GONE', 'gone@example.com'),
      points('p-kept', 'C-KEPT', 'kept@example.com', 250),
      points('p-gone', 'C-GONE', 'gone@example.com', 100),
    ]);

    // Both members reach every ESP first (and each ESP's acceptance is in its sync state).
    await waitFor(
      () =>
        klaviyo
          .state()
          .profiles.map((profile) => profile.attributes.external_id)
          .sort(),
      (ids) => ids.length === 2,
      'two profiles at Klaviyo',
    );
    await waitFor(
      () => (mailchimp.state().lists['sd-members']?.members ?? []).filter((m) => m.status === 'subscribed'),
      (members) => members.length === 2,
      'two subscribed members at Mailchimp',
    );
    await waitFor(
      () => sfmc.state().dataExtensions['TesseraProfiles'] ?? [],
      (rows) => rows.length === 2,
      'two rows at SFMC',
    );
    await waitFor(
      () => braze.state().users.map((user) => user.external_id),
      (ids) => ids.length === 2,
      'two Braze users',
    );
    for (const destination of ['sd-klaviyo', 'sd-mailchimp', 'sd-sfmc', 'sd-braze']) {
      await waitFor(
        () => deliveredAt(destination),
        (count) => count >= 2,
        `${destination} deliveries logged`,
      );
    }

    await send([
      event('m-1', 'membership.merged', '2026-11-24T10:00:00Z', {
        from_customer_id: 'C-GONE',
        to_customer_id: 'C-KEPT',
        reason: 'duplicate account',
      }),
    ]);

    // Klaviyo: the retired profile merged into the survivor's and gone.
    await waitFor(
      () => klaviyo.state().merges,
      (merges) => merges.length === 1,
      'the Klaviyo profile merge',
      30_000,
    );
    expect(klaviyo.findProfile({ externalId: 'C-GONE' })).toBeUndefined();
    expect(klaviyo.state().profiles.map((profile) => profile.attributes.external_id)).toEqual(['C-KEPT']);

    // Mailchimp: the retired member archived (no longer subscribed), the survivor subscribed.
    const members = await waitFor(
      () => mailchimp.state().lists['sd-members']?.members ?? [],
      (all) =>
        all.some((member) => member.email_address === 'gone@example.com' && member.status === 'archived'),
      'the retired Mailchimp member archived',
      30_000,
    );
    expect(
      members
        .filter((member) => member.status !== 'archived')
        .map((member) => [member.email_address, member.status, member.merge_fields['TESSERA_ID']]),
    ).toEqual([['kept@example.com', 'subscribed', 'C-KEPT']]);

    // SFMC: the retired contact key deleted (its row and subscriber with it).
    await waitFor(
      () => sfmc.state().contactDeletions,
      (deletions) => deletions.some((deletion) => deletion.keys.includes('C-GONE')),
      'the retired SFMC contact key deleted',
      30_000,
    );
    expect((sfmc.state().dataExtensions['TesseraProfiles'] ?? []).map((row) => row['TesseraId'])).toEqual([
      'C-KEPT',
    ]);
    expect(sfmc.state().contactDeletions.flatMap((deletion) => deletion.keys)).toEqual(['C-GONE']);

    // Braze: the users merged.
    await waitFor(
      () => braze.state().users.map((user) => user.external_id),
      (ids) => ids.length === 1,
      'one Braze user',
      30_000,
    );
    expect(braze.state().users.map((user) => user.external_id)).toEqual(['C-KEPT']);
    expect(braze.state().merges).toEqual([{ kind: 'merge', merged: 'C-GONE', kept: 'C-KEPT' }]);
  }, 90_000);
});
