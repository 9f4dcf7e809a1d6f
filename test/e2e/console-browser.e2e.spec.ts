import { randomBytes } from 'node:crypto';
import type { Page } from 'playwright-core';
import { BrazeEmulator } from '@tessera/destination-braze';
import type { EmulatorTools, SandboxRequest, SandboxResponse } from '@tessera/destination-kit';
import { KlaviyoEmulator } from '@tessera/destination-klaviyo';
import { consoleUnderTestForFile, enterKey, navigation } from '../support/console-browser-session';
import { waitFor } from '../support/pipeline-fixture';

// The console's web UI in Debian's headless Chromium, against the real all-in-one process (the API, the
// pipeline and the UI it serves at /console/) on a scratch PostgreSQL database, with the ESPs emulated here so
// that each scenario reads what the ESP actually received after a click.

/** Braze, refusing (as a per-item error of /users/track) the customers the test names: a real dead letter. */
class RefusingBraze extends BrazeEmulator {
  readonly refused = new Set<string>();

  override handle(request: SandboxRequest, tools: EmulatorTools): SandboxResponse {
    if (request.path !== '/users/track') return super.handle(request, tools);
    const body = JSON.parse(request.rawBody.toString('utf8')) as { attributes?: { external_id?: string }[] };
    const attributes = body.attributes ?? [];
    const refusedIndexes = attributes.flatMap((object, index) =>
      this.refused.has(object.external_id ?? '') ? [index] : [],
    );
    if (refusedIndexes.length === 0) return super.handle(request, tools);
    const kept = attributes.filter((_, index) => !refusedIndexes.includes(index));
    if (kept.length > 0)
      super.handle(
        { ...request, rawBody: Buffer.from(JSON.stringify({ ...body, attributes: kept })) },
        tools,
      );
    return {
      status: 201,
      headers: { 'content-type': 'application/json' },
      body: {
        message: 'success',
        attributes_processed: kept.length,
        errors: refusedIndexes.map((index) => ({
          type: 'refused by the test',
          input_array: 'attributes',
          index,
        })),
      },
    };
  }
}

describe('the console web UI in a browser', () => {
  const braze = new RefusingBraze();
  const klaviyo = new KlaviyoEmulator();
  // The brand syncs members in full without a grant: these customers have no consent record, and the tests
  // follow their points to each ESP (a dead letter needs an attribute write to refuse).
  const under = consoleUnderTestForFile('console_browser', [braze, klaviyo], (root) => [
    { type: 'braze', settings: { apiKey: 'braze-e2e', baseUrl: `${root}/braze`, withoutGrant: 'full' } },
    { type: 'klaviyo', settings: { apiKey: 'pk_e2e', baseUrl: `${root}/klaviyo`, withoutGrant: 'full' } },
  ]);
  let sequence = 0;

  /** Posts one signed points event per customer to the sports brand's source. */
  async function send(customerIds: readonly string[]): Promise<void> {
    const events = customerIds.map((customerId) => ({
      type: 'points.updated',
      data: { customer_id: customerId, delta: 5, new_balance: 100 + ++sequence, reason: 'purchase' },
    }));
    expect(await under.post('sd-loyalty', under.loyaltySecret, events)).toBe(202);
  }

  const freshCustomer = (label: string) => `${label}-${++sequence}`;
  const atBraze = (customerId: string) => braze.user(customerId) !== undefined;
  const atKlaviyo = (customerId: string) => klaviyo.findProfile({ externalId: customerId }) !== undefined;

  /** How many events the route stage dropped for `destinationId` because it was disabled (its metric). */
  async function droppedAsDisabled(destinationId: string): Promise<number> {
    const metrics = await (await fetch(`${under.tessera.baseUrl}/metrics`)).text();
    const line = new RegExp(
      `^tessera_route_dropped_total\\{destination="${destinationId}",reason="disabled"\\} (\\d+)$`,
      'm',
    ).exec(metrics);
    return Number(line?.[1] ?? 0);
  }

  /**
   * Sends one event for a fresh customer and waits until Klaviyo (always enabled) has it, so its routing is
   * over; whether the route stage dropped it for sd-braze as disabled (by that metric's move).
   */
  async function routeOne(label: string): Promise<{ customerId: string; droppedForBraze: boolean }> {
    const customerId = freshCustomer(label);
    const dropsBefore = await droppedAsDisabled('sd-braze');
    await send([customerId]);
    await waitFor(() => atKlaviyo(customerId), Boolean, `${customerId} at Klaviyo`);
    return { customerId, droppedForBraze: (await droppedAsDisabled('sd-braze')) > dropsBefore };
  }

  /** The value of one of the dashboard's headline figures, by its term. */
  const headlineFigure = (page: Page, term: string) =>
    page
      .locator('dl.headline > div')
      .filter({ has: page.getByText(term, { exact: true }) })
      .locator('dd');

  it('shows the API’s message for an unknown key, and a marketer no Dead letters entry', async () => {
    const page = await under.openConsole();
    await enterKey(page, `tsk_${randomBytes(24).toString('base64url')}`);
    await page.getByRole('alert').filter({ hasText: 'unknown or revoked API key' }).waitFor();

    const marketer = await under.signIn(under.keys.marketer);
    await navigation(marketer).getByRole('link', { name: 'Destinations' }).waitFor();
    expect(await navigation(marketer).getByRole('link', { name: 'Dead letters' }).count()).toBe(0);
    expect(await marketer.getByText('(marketer)').count()).toBe(1);

    const operator = await under.signIn(under.keys.operator);
    await navigation(operator).getByRole('link', { name: 'Dead letters' }).waitFor();
  }, 60_000);

  it('an admin creates a key: the secret shown once signs in with its role', async () => {
    const page = await under.signIn(under.keys.admin);
    await navigation(page).getByRole('link', { name: 'API keys' }).click();
    await page.getByLabel('Key name', { exact: true }).fill('auditor from the browser');
    await page.getByLabel('Role', { exact: true }).selectOption('auditor');
    await page.getByRole('button', { name: 'Create key' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: 'Key auditor from the browser (auditor) created.' })
      .waitFor();
    const shown = await page.getByLabel('Secret', { exact: true }).inputValue();
    expect(shown).toMatch(/^tsk_/);
    expect(await under.api('GET', '/v1/session', shown)).toMatchObject({
      name: 'auditor from the browser',
      role: 'auditor',
    });
  }, 60_000);

  it('the dashboard shows figures the API has no value for yet as such, not as zero', async () => {
    // No event has been sent yet: no delivery, so no latency and no share within ten minutes.
    const dashboard = await under.api<{
      latency: { p50: number | null };
      withinTenMinutesShare: number | null;
    }>('GET', '/v1/dashboard', under.keys.marketer);
    expect(dashboard).toMatchObject({ latency: { p50: null }, withinTenMinutesShare: null });
    const page = await under.signIn(under.keys.marketer);
    await navigation(page).getByRole('link', { name: 'Dashboard' }).click();
    await headlineFigure(page, 'Events per second').waitFor();
    expect(await headlineFigure(page, 'Latency p50').textContent()).toBe('—');
    expect(await headlineFigure(page, 'Updates at the ESP within 10 minutes').textContent()).toBe('—');
  }, 60_000);

  it('a marketer’s destination toggle is honoured by the pipeline: nothing reaches a disabled one', async () => {
    const page = await under.signIn(under.keys.marketer);
    const state = page.getByLabel('State of sd-braze', { exact: true });
    expect(await state.inputValue()).toBe('enabled');

    await state.selectOption('disabled');
    await page.getByRole('status').filter({ hasText: 'sd-braze is now disabled.' }).waitFor();
    expect(
      (await under.api<{ state: string }>('GET', '/v1/destinations/sd-braze', under.keys.marketer)).state,
    ).toBe('disabled');

    // Workers apply states within a second or two: fresh customers until one is routed while sd-braze is
    // disabled. That one reaches Klaviyo, never Braze.
    const whileDisabled = await waitFor(
      () => routeOne('OFF'),
      ({ droppedForBraze }) => droppedForBraze,
      'an event routed while sd-braze is disabled',
      15_000,
    );
    expect(atBraze(whileDisabled.customerId)).toBe(false);

    await state.selectOption('enabled');
    await page.getByRole('status').filter({ hasText: 'sd-braze is now enabled.' }).waitFor();
    const whileEnabled = await waitFor(
      () => routeOne('ON'),
      ({ droppedForBraze }) => !droppedForBraze,
      'an event routed to sd-braze once enabled again',
      15_000,
    );
    await waitFor(() => atBraze(whileEnabled.customerId), Boolean, `${whileEnabled.customerId} at Braze`);
    // Delivered after it: had the disabled-time event been routed to Braze, it would be there by now.
    expect(atBraze(whileDisabled.customerId)).toBe(false);
  }, 90_000);

  it('the mapping editor shows the API’s problems at their JSON Pointer, refuses bad JSON, and saves', async () => {
    const page = await under.signIn(under.keys.marketer);
    const before = await under.api<{ version: number }>(
      'GET',
      '/v1/destinations/sd-klaviyo/mappings',
      under.keys.marketer,
    );
    await page.getByRole('link', { name: 'Edit mappings of sd-klaviyo' }).click();
    await page.getByRole('heading', { name: 'Mappings of sd-klaviyo' }).waitFor();
    const rules = page.getByLabel('Rules (JSON)', { exact: true });
    await waitFor(() => rules.isEnabled(), Boolean, 'the saved rules loaded');

    const broken = { mappings: { first_name: 'profile.first_nme' } };
    const checked = await under.api<{ errors: { path: string; message: string }[] }>(
      'POST',
      '/v1/destinations/sd-klaviyo/mappings/validate',
      under.keys.marketer,
      { rules: broken },
    );
    const [problem] = checked.errors;
    expect(problem?.path).toBe('/mappings/first_name');
    await rules.fill(JSON.stringify(broken));
    const alert = page.getByRole('alert');
    await alert.filter({ hasText: '/mappings/first_name' }).waitFor();
    expect(await alert.textContent()).toContain(`/mappings/first_name — ${problem?.message ?? 'missing'}`);

    // Saving anyway: the API's 422 names the same problem.
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    await page.getByRole('status').filter({ hasText: 'Not saved: the rules do not compile' }).waitFor();

    await rules.fill('{"mappings": {"first_name": ');
    await alert.filter({ hasText: 'Rules are not valid JSON' }).waitFor();

    const fixed = {
      mappings: {
        first_name: 'profile.?first_name.orValue("")',
        points: 'profile.?points_balance.orValue(0)',
      },
    };
    await rules.fill(JSON.stringify(fixed, null, 2));
    await page.getByRole('status').filter({ hasText: 'The rules are valid.' }).waitFor();
    expect(await alert.count()).toBe(0);
    await page.getByRole('button', { name: 'Save', exact: true }).click();
    const version = before.version + 1;
    await page
      .getByRole('status')
      .filter({ hasText: `Saved version ${version}` })
      .waitFor();

    const saved = await under.api<{ version: number; rules: unknown; savedBy: string }>(
      'GET',
      '/v1/destinations/sd-klaviyo/mappings',
      under.keys.marketer,
    );
    expect(saved).toMatchObject({ version, rules: fixed, savedBy: expect.stringMatching(/^console:/) });
  }, 60_000);

  it('the dashboard’s figures move with live traffic, without a reload', async () => {
    const page = await under.signIn(under.keys.marketer);
    let loads = 0;
    page.on('load', () => (loads += 1));
    await navigation(page).getByRole('link', { name: 'Dashboard' }).click();
    await page.getByRole('status').filter({ hasText: 'Live: a sample every 2 s.' }).waitFor();
    const eventsPerSecond = headlineFigure(page, 'Events per second');
    const lastUpdated = page.locator('.last-updated time');
    await eventsPerSecond.waitFor();
    const firstFigure = Number(await eventsPerSecond.textContent());
    const firstUpdate = await lastUpdated.getAttribute('datetime');

    // 200 events over about two seconds, against a figure over 10 seconds: well above 5/s, even if the
    // machine is slow to take them (the earlier traffic was under 1/s).
    for (let batch = 0; batch < 8; batch += 1) {
      await send(Array.from({ length: 25 }, () => freshCustomer('BURST')));
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    const shown = await waitFor(
      async () => Number(await eventsPerSecond.textContent()),
      (figure) => figure >= 5 && figure !== firstFigure,
      'the events-per-second figure up with the burst',
      20_000,
    );
    expect(shown).toBeGreaterThanOrEqual(5);
    expect(await lastUpdated.getAttribute('datetime')).not.toBe(firstUpdate);
    expect(loads).toBe(0);
  }, 60_000);

  it('an operator replays a dead-lettered event and it then reaches the destination', async () => {
    const customerId = freshCustomer('REFUSED');
    braze.refused.add(customerId);
    await send([customerId]);
    const [letter] = (
      await waitFor(
        () =>
          under.api<{ letters: { id: number; customerId?: string; errorClass: string }[] }>(
            'GET',
            '/v1/dead-letters?destination=sd-braze',
            under.keys.operator,
          ),
        ({ letters }) => letters.some((entry) => entry.customerId === customerId),
        'the refused item dead-lettered',
      )
    ).letters.filter((entry) => entry.customerId === customerId);
    expect(letter).toMatchObject({ errorClass: 'rejected' });
    const id = letter?.id ?? 0;
    expect(atBraze(customerId)).toBe(false);

    const page = await under.signIn(under.keys.operator);
    await navigation(page).getByRole('link', { name: 'Dead letters' }).click();
    const select = page.getByLabel(`Select dead letter ${id}`, { exact: true });
    await select.check();
    braze.refused.delete(customerId); // the ESP side was fixed
    await page.getByRole('button', { name: 'Replay selected' }).click();
    await page.getByRole('status').filter({ hasText: 'Replayed 1, already delivered 0' }).waitFor();
    await page.getByText('Not waiting: 0; skipped: 0.').waitFor();
    await page.getByText('No dead letters match.').waitFor();

    await waitFor(() => atBraze(customerId), Boolean, `${customerId} at Braze after the replay`);
    const waiting = await under.api<{ letters: { id: number }[] }>(
      'GET',
      '/v1/dead-letters',
      under.keys.operator,
    );
    expect(waiting.letters.map((entry) => entry.id)).not.toContain(id);
    const replayed = await under.api<{ replayedAt?: string }>(
      'GET',
      `/v1/dead-letters/${id}`,
      under.keys.operator,
    );
    expect(replayed.replayedAt).toEqual(expect.any(String));
  }, 60_000);
});
