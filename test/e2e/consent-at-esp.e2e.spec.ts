import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { BrazeEmulator } from '@tessera/destination-braze';
import { EspSandbox } from '@tessera/destination-kit';
import { KlaviyoEmulator } from '@tessera/destination-klaviyo';
import { MailchimpEmulator } from '@tessera/destination-mailchimp';
import { newWebhookSecret } from '@tessera/runtime';
import { deleteKeysWithPrefix, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { waitFor } from '../support/pipeline-fixture';
import type { TesseraProcess } from '../support/tessera-process';
import { sendSignedBatch, startWorkspaceTessera } from '../support/workspace-tessera';

// Issue 19, items 12 and 13, in the all-in-one process: three members of a brand — one granted email marketing,
// one who withdrew, one with no consent record — and what Klaviyo, Braze and Mailchimp hold afterwards. Every
// destination runs the profile-sync plugin (names, address, tier, points) and rules that map tier and points
// for everyone: the without-grant policy, not the plugins, decides what a member without a grant is sent as.

const PERSONAL = ['first_name', 'last_name', 'address', 'loyalty_tier', 'points_balance'];
const GRANT_TIME = '2026-11-20T08:00:00.000Z';

describe('consent at the ESPs: the without-grant policy and the subscription state', () => {
  const secret = newWebhookSecret();
  const prefix = uniqueRedisPrefix();
  const dataDir = mkdtempSync(join(tmpdir(), 'tessera-consent-esp-'));
  const redis = new Redis(TEST_REDIS_URL);
  // Brand sd: the default policy (minimal) everywhere.
  const klaviyo = new KlaviyoEmulator({ jobCompletionMs: 0 });
  const braze = new BrazeEmulator();
  const mailchimp = new MailchimpEmulator();
  const sandbox = new EspSandbox([klaviyo, braze, mailchimp], { limitsLifted: true });
  // Brand fl: 'none' at its Klaviyo, 'full' at its Braze (separate accounts).
  const flKlaviyo = new KlaviyoEmulator({ jobCompletionMs: 0 });
  const flBraze = new BrazeEmulator();
  const flSandbox = new EspSandbox([flKlaviyo, flBraze], { limitsLifted: true });
  let tessera: TesseraProcess;

  beforeAll(async () => {
    const root = await sandbox.listen();
    const flRoot = await flSandbox.listen();
    mailchimp.configure({
      audiences: [
        {
          id: 'sd-members',
          name: 'SD members',
          mergeFields: [
            { tag: 'FNAME', type: 'text', name: 'First Name' },
            { tag: 'LNAME', type: 'text', name: 'Last Name' },
            { tag: 'ADDRESS', type: 'address', name: 'Address' },
            { tag: 'TESSERA_ID', type: 'text', name: 'Tessera customer id' },
            { tag: 'TIER', type: 'text', name: 'Loyalty tier' },
            { tag: 'POINTS', type: 'number', name: 'Points balance' },
          ],
        },
      ],
    });
    // Rules that map tier and points with no consent condition: without the policy they would reach everyone.
    const mappings = {
      mappings: {
        loyalty_tier: 'profile.?loyalty_tier.orValue("Bronze")',
        points_balance: 'profile.?points_balance.orValue(0)',
      },
    };
    const plugins = [{ name: 'profile-sync' }];
    const workspaceFile = join(dataDir, 'workspace.json');
    writeFileSync(
      workspaceFile,
      JSON.stringify({
        brands: [
          { id: 'sd', name: 'Sports Direct', defaultCountry: 'GB' },
          { id: 'fl', name: 'Flannels', defaultCountry: 'GB' },
        ],
        sources: [
          { id: 'sd-loyalty', brand: 'sd', secrets: [secret] },
          { id: 'fl-loyalty', brand: 'fl', secrets: [secret] },
        ],
        destinations: [
          {
            id: 'sd-klaviyo',
            brand: 'sd',
            type: 'klaviyo',
            settings: { apiKey: 'pk_e2e', baseUrl: `${root}/klaviyo`, windowMs: 0 },
            mappings,
            plugins,
          },
          {
            id: 'sd-braze',
            brand: 'sd',
            type: 'braze',
            settings: { apiKey: 'braze-e2e', baseUrl: `${root}/braze`, windowMs: 0 },
            mappings,
            plugins,
          },
          {
            id: 'sd-mailchimp',
            brand: 'sd',
            type: 'mailchimp',
            settings: {
              apiKey: '0123456789abcdef0123456789abcdef-us21',
              listId: 'sd-members',
              baseUrl: `${root}/mailchimp`,
              mergeFieldMapping: { loyalty_tier: 'TIER', points_balance: 'POINTS' },
              windowMs: 0,
            },
            mappings,
            plugins,
          },
          {
            id: 'fl-klaviyo',
            brand: 'fl',
            type: 'klaviyo',
            settings: {
              apiKey: 'pk_e2e_fl',
              baseUrl: `${flRoot}/klaviyo`,
              windowMs: 0,
              withoutGrant: 'none',
            },
            mappings,
            plugins,
          },
          {
            id: 'fl-braze',
            brand: 'fl',
            type: 'braze',
            settings: {
              apiKey: 'braze-e2e-fl',
              baseUrl: `${flRoot}/braze`,
              windowMs: 0,
              withoutGrant: 'full',
            },
            mappings,
            plugins,
          },
        ],
      }),
    );
    tessera = await startWorkspaceTessera({ prefix, dataDir, workspaceFile });
  }, 60_000);

  afterAll(async () => {
    await tessera?.stop();
    await sandbox.close();
    await flSandbox.close();
    await deleteKeysWithPrefix(redis, prefix);
    await redis.quit();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function send(source: string, events: object[]): Promise<void> {
    expect(await sendSignedBatch(tessera.baseUrl, source, secret, events)).toEqual({ status: 202, body: '' });
  }

  let sequence = 0;
  const event = (type: string, data: object, time = '2026-11-24T09:00:00Z') => ({
    specversion: '1.0',
    id: `evt-${(sequence += 1)}`,
    source: 'https://loyalty.example.com',
    type,
    time,
    data,
  });

  /** A member's whole story at one brand: consent (if any), then profile, tier and points. */
  const memberEvents = (
    brand: string,
    customerId: string,
    email: string,
    consent: ('granted' | 'withdrawn')[],
  ): object[] => [
    ...consent.map((status, index) =>
      event(
        'consent.changed',
        {
          customer_id: customerId,
          email,
          brand,
          channel: 'email',
          status,
          legal_basis: 'consent',
          captured_at: index === 0 ? GRANT_TIME : '2026-11-22T10:00:00.000Z',
          notice_version: 'v3',
        },
        index === 0 ? GRANT_TIME : '2026-11-22T10:00:00.000Z',
      ),
    ),
    event('profile.updated', {
      customer_id: customerId,
      email,
      first_name: 'Ada',
      last_name: `Member${customerId}`,
      address: { line1: '1 High Street', city: 'London', postcode: 'N1 9GU', country: 'GB' },
    }),
    event('tier.changed', { customer_id: customerId, email, tier: 'Gold' }),
    event('points.updated', {
      customer_id: customerId,
      email,
      delta: 5200,
      new_balance: 5200,
      reason: 'purchase',
    }),
  ];

  const klaviyoProfile = (emulator: KlaviyoEmulator, email: string) => {
    emulator.completeJobs();
    return emulator.findProfile({ email });
  };

  it('minimal by default: granted in full and subscribed; withdrawn unsubscribed, identifiers only; no record never subscribed, identifiers only', async () => {
    await send('sd-loyalty', [
      ...memberEvents('sd', 'G1', 'granted@example.com', ['granted']),
      ...memberEvents('sd', 'W1', 'withdrawn@example.com', ['granted', 'withdrawn']),
      ...memberEvents('sd', 'N1', 'norecord@example.com', []),
    ]);

    // Klaviyo: the profile-import carries the attributes, the bulk subscribe job the consent and its time.
    const grantedAtKlaviyo = await waitFor(
      () => klaviyoProfile(klaviyo, 'granted@example.com'),
      (profile) =>
        profile?.attributes.subscriptions.email.marketing.consent === 'SUBSCRIBED' &&
        profile.attributes.properties['points_balance'] === 5200 &&
        profile.attributes.first_name !== null &&
        profile.attributes.first_name !== undefined,
      'the granted member subscribed in full at Klaviyo',
    );
    expect(grantedAtKlaviyo?.attributes).toMatchObject({
      external_id: 'G1',
      first_name: 'Ada',
      last_name: 'MemberG1',
      properties: expect.objectContaining({ loyalty_tier: 'Gold', points_balance: 5200 }),
    });
    expect(Date.parse(grantedAtKlaviyo?.attributes.subscriptions.email.marketing.consented_at ?? '')).toBe(
      Date.parse(GRANT_TIME),
    );

    const withdrawnAtKlaviyo = await waitFor(
      () => klaviyoProfile(klaviyo, 'withdrawn@example.com'),
      (profile) =>
        profile?.attributes.subscriptions.email.marketing.consent === 'UNSUBSCRIBED' &&
        profile.attributes.external_id === 'W1',
      'the withdrawn member unsubscribed at Klaviyo',
    );
    const noRecordAtKlaviyo = await waitFor(
      () => klaviyoProfile(klaviyo, 'norecord@example.com'),
      (profile) => profile?.attributes.external_id === 'N1',
      'the member without a record at Klaviyo',
    );
    expect(noRecordAtKlaviyo?.attributes.subscriptions.email.marketing.consent).toBe('NEVER_SUBSCRIBED');

    // Braze: opted in with a grant, unsubscribed after a withdrawal, left at its default without a record.
    await waitFor(
      () => braze.state(),
      (state) =>
        state.emailSubscriptions['granted@example.com'] === 'opted_in' &&
        state.emailSubscriptions['withdrawn@example.com'] === 'unsubscribed' &&
        ['G1', 'W1', 'N1'].every((id) => state.users.some((user) => user.external_id === id)) &&
        state.users.find((user) => user.external_id === 'G1')?.attributes['points_balance'] === 5200,
      'the three members at Braze',
    );
    const brazeState = braze.state();
    const brazeUser = (id: string) => brazeState.users.find((user) => user.external_id === id);
    expect(brazeUser('G1')?.attributes).toMatchObject({
      first_name: 'Ada',
      loyalty_tier: 'Gold',
      points_balance: 5200,
    });
    expect(brazeState.emailSubscriptions['norecord@example.com'] ?? 'subscribed').toBe('subscribed');

    // Mailchimp: subscribed with a grant, unsubscribed after a withdrawal, transactional without a record.
    const members = await waitFor(
      () => mailchimp.state().lists['sd-members']?.members ?? [],
      (list) =>
        list.length === 3 &&
        list.find((member) => member.email_address === 'granted@example.com')?.status === 'subscribed' &&
        list.find((member) => member.email_address === 'withdrawn@example.com')?.status === 'unsubscribed' &&
        list.find((member) => member.email_address === 'granted@example.com')?.merge_fields['POINTS'] ===
          5200,
      'the three members at Mailchimp',
    );
    const member = (email: string) => members.find((candidate) => candidate.email_address === email);
    expect(member('granted@example.com')?.merge_fields).toMatchObject({
      FNAME: 'Ada',
      LNAME: 'MemberG1',
      TIER: 'Gold',
      POINTS: 5200,
      TESSERA_ID: 'G1',
    });
    expect(member('norecord@example.com')?.status).toBe('transactional');
    // The opt-in time Mailchimp records is the consent's own, not the time of the sync.
    expect(Date.parse(member('granted@example.com')?.timestamp_opt ?? '')).toBe(Date.parse(GRANT_TIME));
    expect(member('withdrawn@example.com')).not.toHaveProperty('timestamp_opt');

    // Give any straggling delivery of the later events time to land, then check nothing personal did.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    for (const email of ['withdrawn@example.com', 'norecord@example.com']) {
      const atKlaviyo = klaviyoProfile(klaviyo, email);
      expect(atKlaviyo?.attributes.first_name ?? null).toBeNull();
      expect(atKlaviyo?.attributes.last_name ?? null).toBeNull();
      expect(atKlaviyo?.attributes.properties ?? {}).toEqual({});
      expect(atKlaviyo?.attributes.location?.address1 ?? null).toBeNull();
      const atMailchimp = mailchimp
        .state()
        .lists['sd-members']?.members.find((candidate) => candidate.email_address === email);
      expect(Object.keys(atMailchimp?.merge_fields ?? {})).toEqual(['TESSERA_ID']);
    }
    for (const id of ['W1', 'N1']) {
      const attributes = braze.state().users.find((user) => user.external_id === id)?.attributes ?? {};
      for (const field of PERSONAL) expect(attributes).not.toHaveProperty(field);
    }
    expect(withdrawnAtKlaviyo?.attributes.external_id).toBe('W1');
  }, 60_000);

  it("the brand's choice: 'none' sends a member without a grant nothing but the withdrawal's unsubscribe, 'full' sends everything", async () => {
    await send('fl-loyalty', [
      ...memberEvents('fl', 'FG', 'fl-granted@example.com', ['granted']),
      ...memberEvents('fl', 'FW', 'fl-withdrawn@example.com', ['granted', 'withdrawn']),
      ...memberEvents('fl', 'FN', 'fl-norecord@example.com', []),
    ]);

    // 'full' at fl-braze: everyone in full; the subscription state still mirrors the ledger.
    await waitFor(
      () => flBraze.state(),
      (state) =>
        ['FG', 'FW', 'FN'].every(
          (id) => state.users.find((user) => user.external_id === id)?.attributes['points_balance'] === 5200,
        ) &&
        state.emailSubscriptions['fl-granted@example.com'] === 'opted_in' &&
        state.emailSubscriptions['fl-withdrawn@example.com'] === 'unsubscribed',
      'every fl member in full at Braze',
    );
    for (const id of ['FW', 'FN']) {
      expect(flBraze.state().users.find((user) => user.external_id === id)?.attributes).toMatchObject({
        first_name: 'Ada',
        loyalty_tier: 'Gold',
        points_balance: 5200,
      });
    }
    expect(flBraze.state().emailSubscriptions['fl-norecord@example.com'] ?? 'subscribed').toBe('subscribed');

    // 'none' at fl-klaviyo: the granted member in full; the withdrawn one only as the unsubscribe of their
    // withdrawal (Klaviyo may hold them from when they were granted); the one without a record not at all.
    await waitFor(
      () => klaviyoProfile(flKlaviyo, 'fl-granted@example.com'),
      (profile) =>
        profile?.attributes.subscriptions.email.marketing.consent === 'SUBSCRIBED' &&
        profile.attributes.properties['points_balance'] === 5200,
      'the granted fl member at Klaviyo',
    );
    const withdrawn = await waitFor(
      () => klaviyoProfile(flKlaviyo, 'fl-withdrawn@example.com'),
      (profile) => profile?.attributes.subscriptions.email.marketing.consent === 'UNSUBSCRIBED',
      'the withdrawn fl member unsubscribed at Klaviyo',
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(klaviyoProfile(flKlaviyo, 'fl-norecord@example.com')).toBeUndefined();
    const after = klaviyoProfile(flKlaviyo, 'fl-withdrawn@example.com');
    expect(after?.attributes.first_name ?? null).toBeNull();
    expect(after?.attributes.properties ?? {}).toEqual({});
    expect(withdrawn?.attributes.external_id ?? null).toBeNull();
  }, 60_000);
});
