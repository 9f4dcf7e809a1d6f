import type { DestinationHarness } from '@tessera/destination-kit';
import type { MailchimpEmulatorConfig } from './emulator/emulator-configuration';
import type { MailchimpEmulator } from './emulator/mailchimp.emulator';
import type { MailchimpSettings } from './mailchimp-settings';
import {
  consent,
  hashOf,
  LIST,
  member,
  type MailchimpTestBench,
  startMailchimpBench,
  TEST_AUDIENCES,
} from './testing/mailchimp-test-bench';

// One bad field does not sink a member: a merge field the audience refuses is left out, the member goes again,
// and its ok result says what was left out and why.

/** The test audience without some of its merge fields (a marketer never added them), and POINTS as a number. */
function audienceWithout(...tags: string[]): MailchimpEmulatorConfig {
  const [audience] = TEST_AUDIENCES.audiences;
  if (audience === undefined) throw new Error('no test audience');
  return {
    audiences: [
      {
        ...audience,
        mergeFields: [
          ...audience.mergeFields.filter((field) => !tags.includes(field.tag)),
          { tag: 'POINTS', type: 'number', name: 'Points balance' },
        ],
      },
    ],
  };
}

const NO_TIER = `Mailchimp refused merge field TIER: This merge field does not exist in audience ${LIST}.`;

describe('Mailchimp merge fields the audience refuses', () => {
  let bench: MailchimpTestBench;
  let emulator: MailchimpEmulator;
  let harness: DestinationHarness<MailchimpSettings>;

  async function start(...args: Parameters<typeof startMailchimpBench>): Promise<void> {
    bench = await startMailchimpBench(...args);
    ({ emulator, harness } = bench);
  }

  afterEach(async () => {
    const violations = harness.violations();
    await harness.close();
    expect(violations).toEqual([]);
  });

  it('sends a batch again without a tag the audience lacks, and names it against the attribute', async () => {
    await start({}, { audiences: audienceWithout('TIER') });

    const results = await harness.run('upsertProfiles', [member(1), member(2)]);

    expect(results).toEqual(
      [1, 2].map((n) => ({
        status: 'ok',
        externalId: hashOf(n),
        omittedFields: [{ field: 'loyalty_tier', reason: NO_TIER }],
        created: true,
      })),
    );
    expect(harness.requests().map((request) => request.body)).toEqual([
      {
        members: [1, 2].map((n) => ({
          email_address: `member${n}@example.com`,
          status: 'transactional',
          merge_fields: { TESSERA_ID: `C0000${n}`, FNAME: `Ada${n}`, TIER: 'gold' },
        })),
        update_existing: false,
      },
      {
        members: [1, 2].map((n) => ({
          email_address: `member${n}@example.com`,
          status: 'transactional',
          merge_fields: { TESSERA_ID: `C0000${n}`, FNAME: `Ada${n}` },
        })),
        update_existing: false,
      },
    ]);
    expect(bench.stored(2)?.merge_fields).toEqual({ TESSERA_ID: 'C00002', FNAME: 'Ada2' });
  });

  it('re-sends only the member whose value the field cannot hold; the others land in the first call', async () => {
    await start(
      { mergeFieldMapping: { loyalty_tier: 'TIER', points_balance: 'POINTS' } },
      { audiences: audienceWithout() },
    );
    await harness.run('upsertProfiles', [member(1), member(2)]);
    harness.clearRequests();

    const results = await harness.run('updateAttributes', [
      member(1, { externalId: hashOf(1), attributes: { points_balance: 1200 } }),
      member(2, { externalId: hashOf(2), attributes: { points_balance: 'a great many' } }),
    ]);

    expect(results).toEqual([
      { status: 'ok', externalId: hashOf(1) },
      {
        status: 'ok',
        externalId: hashOf(2),
        omittedFields: [
          { field: 'points_balance', reason: 'Mailchimp refused merge field POINTS: Please enter a number' },
        ],
      },
    ]);
    expect(
      harness.requests().map((request) => (request.body as { members: unknown[] }).members.length),
    ).toEqual([2, 1]);
    expect([bench.stored(1)?.merge_fields['POINTS'], bench.stored(2)?.merge_fields['POINTS']]).toEqual([
      1200,
      undefined,
    ]);
  });

  it('PUTs a single member again without the refused fields, all at once', async () => {
    await start(
      { mergeFieldMapping: { loyalty_tier: 'TIER', points_balance: 'POINTS' } },
      { audiences: audienceWithout('TIER') },
    );

    const results = await harness.run('upsertProfiles', [
      member(1, { attributes: { first_name: 'Ada', loyalty_tier: 'gold', points_balance: 'lots' } }),
    ]);

    expect(results).toEqual([
      {
        status: 'ok',
        externalId: hashOf(1),
        omittedFields: [
          { field: 'loyalty_tier', reason: NO_TIER },
          { field: 'points_balance', reason: 'Mailchimp refused merge field POINTS: Please enter a number' },
        ],
      },
    ]);
    expect(harness.requests().map((request) => [request.method, request.status])).toEqual([
      ['PUT', 400],
      ['PUT', 200],
    ]);
    expect(bench.stored(1)?.merge_fields).toEqual({ TESSERA_ID: 'C00001', FNAME: 'Ada' });
  });

  it('subscribes a member of an audience without TESSERA_ID: the consent lands, the link is reported missing', async () => {
    await start({}, { audiences: audienceWithout('TESSERA_ID') });

    const results = await harness.run('subscribe', [consent(1), consent(2)]);

    expect(results).toEqual(
      [1, 2].map((n) => ({
        status: 'ok',
        externalId: hashOf(n),
        omittedFields: [
          {
            field: 'customerId',
            reason: `Mailchimp refused merge field TESSERA_ID: This merge field does not exist in audience ${LIST}.`,
          },
        ],
      })),
    );
    expect([bench.stored(1)?.status, bench.stored(2)?.status]).toEqual(['subscribed', 'subscribed']);
    expect(emulator.state().lists[LIST]?.members).toHaveLength(2);
  });
});
