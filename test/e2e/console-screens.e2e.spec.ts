import { readFile } from 'node:fs/promises';
import type { Page } from 'playwright-core';
import { KlaviyoEmulator } from '@tessera/destination-klaviyo';
import { IdentityGraph, MatchReview } from '@tessera/identity-graph';
import { PiiVault, PostgresStore } from '@tessera/store';
import {
  consoleUnderTestForFile,
  navigation,
  openScreen,
  rowNamed,
} from '../support/console-browser-session';
import { waitFor } from '../support/pipeline-fixture';

// The console's Sources, Review queue, Profiles, Data subject requests and Audit log screens in a browser,
// against the real all-in-one process: each click is checked against what the API and the pipeline then do.
// The scenarios run in order on one process; the audit log's is about the acts of the ones before it.

const ADMIN_ACTOR = 'console:admin-from-environment';

interface SourceView {
  id: string;
  held: boolean;
  holdReason: string | null;
  secrets: { id: string; revokedAt: string | null }[];
}

interface ProfileView {
  customerId: string;
  deliveries: { destinationId: string; status: string }[];
}

describe('the console’s sources, reviews, profiles, DSR and audit screens in a browser', () => {
  const klaviyo = new KlaviyoEmulator();
  const under = consoleUnderTestForFile('console_screens', [klaviyo], (root) => [
    { type: 'klaviyo', settings: { apiKey: 'pk_e2e', baseUrl: `${root}/klaviyo` } },
  ]);
  let sequence = 0;
  /** The secret ids of the Sources scenario's rotation, for the audit log's. */
  const rotation = { before: '', after: '' };
  /** The DSR scenario's request, whose export the audit log's finds. */
  let exportedRequestId = '';

  const unique = (label: string) => `${label}-${++sequence}`;

  const pointsEvent = () => ({
    type: 'points.updated',
    data: { customer_id: unique('SRC'), delta: 5, new_balance: 105, reason: 'purchase' },
  });

  /** Waits until the ingest (which reloads sources every second) answers `status` to an event signed with `secret`. */
  const ingestAnswers = (sourceId: string, secret: string, status: number, what: string) =>
    waitFor(
      () => under.post(sourceId, secret, [pointsEvent()]),
      (answer) => answer === status,
      what,
      10_000,
    );

  async function sources(): Promise<SourceView[]> {
    return (await under.api<{ sources: SourceView[] }>('GET', '/v1/sources', under.keys.admin)).sources;
  }

  /** A profile by `type:value`, once the pipeline has it (and, with `done`, once it looks so). */
  async function profileOnceThere(
    reference: string,
    done: (profile: ProfileView) => boolean = () => true,
  ): Promise<ProfileView> {
    const found = await waitFor(
      () =>
        under
          .api<ProfileView>('GET', `/v1/profiles/${encodeURIComponent(reference)}`, under.keys.admin)
          .catch(() => undefined),
      (profile) => profile !== undefined && done(profile),
      `the profile of ${reference}`,
    );
    if (found === undefined) throw new Error(`no profile for ${reference}`);
    return found;
  }

  const shownSecret = (page: Page) => page.getByLabel('Secret', { exact: true }).inputValue();

  it('sources: a created source’s secret signs events, a rotation keeps both, a revocation refuses the old one; an operator holds and releases', async () => {
    const sourceId = unique('sd-pos');
    const admin = await under.signIn(under.keys.admin);
    await openScreen(admin, 'Sources');
    await admin.getByLabel('Source ID', { exact: true }).fill(sourceId);
    await admin.getByLabel('Brand', { exact: true }).selectOption('sd');
    await admin.getByRole('button', { name: 'Create source' }).click();
    await admin
      .getByRole('status')
      .filter({ hasText: `Source ${sourceId} created.` })
      .waitFor();
    const firstSecret = await shownSecret(admin);
    expect(firstSecret).toMatch(/^whsec_/);
    await rowNamed(admin, sourceId).waitFor();
    await ingestAnswers(sourceId, firstSecret, 202, 'the created source’s secret accepted');

    await admin.getByRole('button', { name: `Rotate secret of ${sourceId}` }).click();
    await admin
      .getByRole('status')
      .filter({ hasText: `Secret of ${sourceId} rotated` })
      .waitFor();
    const secondSecret = await shownSecret(admin);
    expect(secondSecret).toMatch(/^whsec_/);
    expect(secondSecret).not.toBe(firstSecret);
    await ingestAnswers(sourceId, secondSecret, 202, 'the rotated secret accepted');
    expect(await under.post(sourceId, firstSecret, [pointsEvent()])).toBe(202);

    const created = (await sources()).find((source) => source.id === sourceId);
    const [oldSecret, newSecret] = created?.secrets ?? [];
    rotation.before = oldSecret?.id ?? '';
    rotation.after = newSecret?.id ?? '';
    expect(created?.secrets).toHaveLength(2);
    await admin.getByRole('button', { name: `Revoke secret ${rotation.before}` }).click();
    await admin
      .getByRole('status')
      .filter({ hasText: `Secret ${rotation.before} of ${sourceId} revoked.` })
      .waitFor();
    await rowNamed(admin, sourceId)
      .getByText(/revoked \d{4}-/)
      .waitFor();
    await ingestAnswers(sourceId, firstSecret, 401, 'the revoked secret refused');
    expect(await under.post(sourceId, secondSecret, [pointsEvent()])).toBe(202);
    // What the API says matches: the old secret revoked, the new one live.
    const revoked = (await sources()).find((source) => source.id === sourceId);
    expect(revoked?.secrets.map((secret) => secret.revokedAt === null)).toEqual([false, true]);

    const operator = await under.signIn(under.keys.operator);
    await openScreen(operator, 'Sources');
    expect(await operator.getByRole('button', { name: /^(Rotate|Revoke|Create)/ }).count()).toBe(0);
    const row = rowNamed(operator, sourceId);
    await row.getByRole('cell', { name: 'no', exact: true }).waitFor();
    await operator.getByLabel('Reason to hold or release', { exact: true }).fill('bad import');
    await operator.getByRole('button', { name: `Hold ${sourceId}` }).click();
    await operator
      .getByRole('status')
      .filter({ hasText: `Source ${sourceId} held.` })
      .waitFor();
    await row.getByRole('cell', { name: 'held: bad import', exact: true }).waitFor();
    expect((await sources()).find((source) => source.id === sourceId)).toMatchObject({
      held: true,
      holdReason: 'bad import',
    });
    await operator.getByRole('button', { name: `Release ${sourceId}` }).click();
    await operator
      .getByRole('status')
      .filter({ hasText: `Source ${sourceId} released.` })
      .waitFor();
    await row.getByRole('cell', { name: 'no', exact: true }).waitFor();
    expect((await sources()).find((source) => source.id === sourceId)?.held).toBe(false);
  }, 90_000);

  it('profiles: an admin sees the raw email, a marketer only the masked one; consent and deliveries show', async () => {
    const memberId = unique('M');
    const email = `ana.${memberId.toLowerCase()}@example.com`;
    const masked = `a***@example.com`;
    expect(
      await under.post('sd-loyalty', under.loyaltySecret, [
        {
          type: 'profile.updated',
          data: { member_id: memberId, brand: 'sd', email, first_name: 'Ana', last_name: 'Lopez' },
        },
        {
          type: 'consent.changed',
          data: {
            email,
            brand: 'sd',
            channel: 'email',
            status: 'granted',
            legal_basis: 'consent',
            captured_at: new Date().toISOString(),
            notice_version: 'v1',
          },
        },
        { type: 'points.updated', data: { email, delta: 5, new_balance: 120, reason: 'purchase' } },
      ]),
    ).toBe(202);
    const profile = await profileOnceThere(`email:${email}`, ({ deliveries }) => deliveries.length > 0);

    const lookUp = async (key: string) => {
      const page = await under.signIn(key);
      await openScreen(page, 'Profiles');
      await page.getByLabel('Identifier', { exact: true }).fill(`email:${email}`);
      await page.getByRole('button', { name: 'Look up' }).click();
      await page
        .getByRole('status')
        .filter({ hasText: `Customer ${profile.customerId}` })
        .waitFor();
      return page;
    };
    const consentTable = (page: Page) => page.getByRole('table', { name: 'Consent' });
    const deliveriesTable = (page: Page) => page.getByRole('table', { name: 'Recent deliveries' });

    const admin = await lookUp(under.keys.admin);
    await admin.getByRole('table', { name: 'Identifiers' }).getByRole('cell', { name: email }).waitFor();
    const adminConsent = consentTable(admin).getByRole('row').filter({ hasText: 'granted' });
    await adminConsent.waitFor();
    expect(await adminConsent.textContent()).toContain(email);
    expect(await adminConsent.textContent()).toMatch(/email.*marketing.*granted.*consent.*\d{4}-\d{2}-\d{2}/);
    await deliveriesTable(admin).getByRole('row').filter({ hasText: 'sd-klaviyo' }).first().waitFor();

    const marketer = await lookUp(under.keys.marketer);
    await marketer.getByRole('table', { name: 'Identifiers' }).getByRole('cell', { name: masked }).waitFor();
    await consentTable(marketer).getByRole('row').filter({ hasText: masked }).waitFor();
    await deliveriesTable(marketer).getByRole('row').filter({ hasText: 'sd-klaviyo' }).first().waitFor();
    await marketer.getByText('Personal data is masked for your role.').waitFor();
    // Everything rendered (the search field holds what the marketer typed, not the page's answer).
    expect(await marketer.locator('body').innerText()).not.toContain(email);
  }, 60_000);

  it('review queue: an admin approves a probable merge and both customers resolve to one profile', async () => {
    const person = { first_name: 'Eleanor', last_name: 'Whitfield', address: { postcode: 'LS6 2AB' } };
    // Two anchored profiles: a brand membership and a group account (two member ids of one brand would be an
    // anchor conflict, which no approval can merge).
    const memberId = unique('M');
    const groupCustomerId = unique('C');
    const anchors = [
      { reference: `member.sd:${memberId}`, identifiers: { member_id: memberId, brand: 'sd' } },
      { reference: `customer_id:${groupCustomerId}`, identifiers: { customer_id: groupCustomerId } },
    ];
    expect(
      await under.post(
        'sd-loyalty',
        under.loyaltySecret,
        anchors.map(({ identifiers }) => ({ type: 'profile.updated', data: { ...identifiers, ...person } })),
      ),
    ).toBe(202);
    const customerIds = await Promise.all(
      anchors.map(async ({ reference }) => (await profileOnceThere(reference)).customerId),
    );
    expect(new Set(customerIds).size).toBe(2);

    // Probable matching is run by whoever changes names or addresses: here, on the process's database.
    const store = new PostgresStore(under.databaseUrl, { maxConnections: 2 });
    try {
      const graph = new IdentityGraph({
        store,
        vault: new PiiVault([under.masterKey]),
        brands: [{ id: 'sd', defaultCountry: 'GB' }],
      });
      expect((await new MatchReview(graph).findProbableMatches(customerIds)).queued).toBe(1);
    } finally {
      await store.close();
    }
    const { reviews } = await under.api<{ reviews: { id: number; customerIds: string[] }[] }>(
      'GET',
      '/v1/reviews?status=pending',
      under.keys.admin,
    );
    const review = reviews.find((candidate) =>
      customerIds.every((customerId) => candidate.customerIds.includes(customerId)),
    );
    expect(review).toBeDefined();
    const reviewId = review?.id ?? 0;

    const page = await under.signIn(under.keys.admin);
    await openScreen(page, 'Review queue');
    const row = rowNamed(page, String(reviewId));
    await row.getByText(customerIds[0] ?? '').waitFor();
    await page.getByRole('button', { name: `Approve review ${reviewId}`, exact: true }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Review ${reviewId} approved.` })
      .waitFor();
    await row.waitFor({ state: 'detached' });

    const survivors = await Promise.all(
      customerIds.map(
        async (customerId) =>
          (
            await under.api<ProfileView>(
              'GET',
              `/v1/profiles/${encodeURIComponent(`customer_id:${customerId}`)}`,
              under.keys.admin,
            )
          ).customerId,
      ),
    );
    expect(survivors[0]).toBe(survivors[1]);
    expect(customerIds).toContain(survivors[0]);
  }, 60_000);

  it('DSR: an admin opens an access request by email, sees it complete and downloads its export', async () => {
    const email = `dsr.${unique('subject')}@example.com`;
    expect(
      await under.post('sd-loyalty', under.loyaltySecret, [
        { type: 'profile.updated', data: { email, first_name: 'Dora' } },
      ]),
    ).toBe(202);
    const { customerId } = await profileOnceThere(`email:${email}`);

    const page = await under.signIn(under.keys.admin);
    await openScreen(page, 'Data subject requests');
    await page.getByLabel('Request type', { exact: true }).selectOption('access');
    await page.getByLabel('Subject identified by', { exact: true }).selectOption('email');
    await page.getByLabel('Email of the subject', { exact: true }).fill(email);
    await page.getByRole('button', { name: 'Open request' }).click();
    const opened = page.getByRole('status').filter({ hasText: /Request dsr_\w+ \(access\) opened\./ });
    await opened.waitFor();
    const requestId = /Request (dsr_\w+)/.exec((await opened.textContent()) ?? '')?.[1] ?? '';
    expect(requestId).not.toBe('');

    // The list follows the request until it is done, without a reload.
    const row = rowNamed(page, requestId);
    await row.getByRole('cell', { name: 'completed', exact: true }).waitFor({ timeout: 20_000 });
    expect(await row.getByRole('cell').nth(2).textContent()).toMatch(/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/);
    await page.getByRole('button', { name: `Details of ${requestId}` }).click();
    const details = page.getByRole('region', { name: `Request ${requestId}` });
    await details.getByText(customerId).first().waitFor();

    const [download] = await Promise.all([
      page.waitForEvent('download'),
      page.getByRole('button', { name: `Download export of ${requestId}`, exact: true }).click(),
    ]);
    const exported = JSON.parse(await readFile(await download.path(), 'utf8')) as {
      requestId: string;
      subject: { customerIds: string[] };
    };
    expect(exported.requestId).toBe(requestId);
    exportedRequestId = requestId;
    expect(exported.subject.customerIds).toEqual([customerId]);
    await page
      .getByRole('status')
      .filter({ hasText: `Export of ${requestId} downloaded.` })
      .waitFor();
  }, 60_000);

  it('audit log: an auditor finds the rotation with its actor and before → after, and sees no edit control anywhere', async () => {
    expect(rotation.before).not.toBe('');
    const page = await under.signIn(under.keys.auditor);
    await openScreen(page, 'Audit log');
    await page.getByLabel('Action', { exact: true }).fill('source.secret_rotated');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    await page.getByRole('table').getByRole('caption').filter({ hasText: 'Audit entries (1)' }).waitFor();
    const entry = page.getByRole('row').filter({ hasText: 'source.secret_rotated' });
    const cells = entry.getByRole('cell');
    expect(await cells.nth(1).textContent()).toBe(ADMIN_ACTOR);
    expect(await cells.nth(3).textContent()).toMatch(/^source \/ sd-pos-\d+$/);
    const change = (await cells.nth(4).textContent()) ?? '';
    expect(change).toContain(`"liveSecrets":["${rotation.before}"]`);
    expect(change).toContain(`→`);
    expect(change).toContain(`"newSecret":"${rotation.after}"`);

    // An act recorded without before and after (the DSR export's own record) shows its detail.
    await page.getByLabel('Action', { exact: true }).fill('dsr.export');
    await page.getByRole('button', { name: 'Apply filters' }).click();
    const exportEntry = page.getByRole('row').filter({ hasText: 'dsr.export' }).first();
    await exportEntry.waitFor();
    expect(await exportEntry.getByRole('cell').nth(4).textContent()).toContain(
      `"requestId":"${exportedRequestId}"`,
    );

    const titles = await navigation(page).getByRole('link').allTextContents();
    expect(titles).toEqual(
      expect.arrayContaining(['Sources', 'Review queue', 'Profiles', 'Data subject requests', 'Audit log']),
    );
    expect(titles).not.toContain('API keys');
    for (const title of titles) {
      await openScreen(page, title);
      await waitFor(
        () => page.getByText('Loading…').count(),
        (count) => count === 0,
        `${title} loaded`,
      );
      if (title === 'Sources') await rowNamed(page, 'sd-loyalty').waitFor();
      if (title === 'Destinations') await rowNamed(page, 'sd-klaviyo').waitFor();
      if (title === 'Data subject requests')
        await page
          .getByRole('button', { name: /^Details of / })
          .first()
          .waitFor();
      expect({
        title,
        stateSelects: await page.getByRole('combobox', { name: /^State of / }).count(),
      }).toEqual({
        title,
        stateSelects: 0,
      });
      const editButtons = await page
        .getByRole('button', {
          name: /^(Save|Replay|Discard|Approve|Reject|Hold|Release|Rotate|Revoke|Create|Open request|Download|Merge|Unmerge)/,
        })
        .allTextContents();
      expect({ title, editButtons }).toEqual({ title, editButtons: [] });
      expect({ title, secrets: await page.getByLabel('Secret', { exact: true }).count() }).toEqual({
        title,
        secrets: 0,
      });
    }
  }, 60_000);
});
