import { KlaviyoEmulator } from '@tessera/destination-klaviyo';
import { consoleUnderTestForFile, openScreen, rowNamed } from '../support/console-browser-session';
import { waitFor } from '../support/pipeline-fixture';

// Issue 19 item 10 in a browser against the all-in-one process: a family email two members of brand sd share
// is listed on the Shared contact points screen and on the second member's profile, masked for a marketer.

interface Shared {
  id: number;
  customerId: string;
  heldBy: string;
}

describe('the console’s shared contact points in a browser', () => {
  const klaviyo = new KlaviyoEmulator();
  const under = consoleUnderTestForFile('console_shared_points', [klaviyo], (root) => [
    { type: 'klaviyo', settings: { apiKey: 'pk_e2e', baseUrl: `${root}/klaviyo` } },
  ]);
  const email = 'the.family@example.com';
  const reason = 'shared by two members anchored by member.sd: links nothing';

  it('lists the case and shows it on the second member’s profile; a marketer sees it masked', async () => {
    for (const memberId of ['FAM-1', 'FAM-2']) {
      expect(
        await under.post('sd-loyalty', under.loyaltySecret, [
          {
            type: 'profile.updated',
            data: { member_id: memberId, brand: 'sd', email, first_name: memberId },
          },
        ]),
      ).toBe(202);
      // One after the other: the first member holds the email.
      await waitFor(
        () =>
          under
            .api<{ customerId: string }>('GET', `/v1/profiles/member.sd%3A${memberId}`, under.keys.admin)
            .catch(() => undefined),
        (profile) => profile !== undefined,
        `member ${memberId}`,
      );
    }
    const listed = await waitFor(
      () =>
        under.api<{ sharedIdentifiers: Shared[] }>(
          'GET',
          '/v1/identity/shared-identifiers',
          under.keys.admin,
        ),
      (page) => page.sharedIdentifiers.length === 1,
      'the shared email listed',
    );
    const [shared] = listed.sharedIdentifiers;

    const admin = await under.signIn(under.keys.admin);
    await openScreen(admin, 'Shared contact points');
    const row = rowNamed(admin, String(shared?.id));
    await row.waitFor();
    const text = await row.textContent();
    expect(text).toContain(email);
    expect(text).toContain(shared?.customerId);
    expect(text).toContain(shared?.heldBy);
    expect(text).toContain(reason);

    const marketer = await under.signIn(under.keys.marketer);
    await openScreen(marketer, 'Shared contact points');
    const masked = rowNamed(marketer, String(shared?.id));
    await masked.waitFor();
    expect(await masked.textContent()).toContain('t***@example.com');
    expect(await marketer.content()).not.toContain(email);

    await openScreen(marketer, 'Profiles');
    await marketer.getByLabel('Identifier', { exact: true }).fill('member.sd:FAM-2');
    await marketer.getByRole('button', { name: 'Look up' }).click();
    const table = marketer.getByRole('table', { name: 'Shared contact points (linking nothing here)' });
    await table.getByRole('cell', { name: reason }).waitFor();
    expect(await table.textContent()).toContain('t***@example.com');
    expect(await table.textContent()).toContain(shared?.heldBy);
  }, 90_000);
});
