import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BrowserContext, Page } from 'playwright-core';
import { KlaviyoEmulator } from '@tessera/destination-klaviyo';
import { consoleUnderTestForFile, navigation, openScreen } from '../support/console-browser-session';

// The console's security headers in Debian's headless Chromium against the real all-in-one process: the web
// UI, the API docs and Bull Board work under their Content-Security-Policy (no violation but the one named),
// and no other site can frame them.

const CONSOLE_CSP =
  "default-src 'self';base-uri 'self';connect-src 'self';font-src 'self' data:;form-action 'self';" +
  "frame-ancestors 'none';img-src 'self' data:;object-src 'none';script-src 'self';script-src-attr 'none';" +
  "style-src 'self'";

/** Every CSP violation the page reports, as `directive blocked-uri` (the script runs in the page). */
async function watchViolations(context: BrowserContext): Promise<(page: Page) => Promise<string[]>> {
  await context.addInitScript(`
    window.cspViolations = [];
    document.addEventListener('securitypolicyviolation', (event) =>
      window.cspViolations.push(event.effectiveDirective + ' ' + event.blockedURI));
  `);
  return (page) => page.evaluate<string[]>('window.cspViolations');
}

describe('the console’s security headers in a browser', () => {
  const klaviyo = new KlaviyoEmulator();
  const under = consoleUnderTestForFile('console_headers', [klaviyo], (root) => [
    { type: 'klaviyo', settings: { apiKey: 'pk_e2e', baseUrl: `${root}/klaviyo` } },
  ]);

  it('sends the policy, frame-ancestors and the usual headers on the UI, the API, the docs and the board', async () => {
    const base = under.tessera.baseUrl;
    const basic = `Basic ${Buffer.from(`ops:${under.keys.admin}`).toString('base64')}`;
    for (const [path, headers] of [
      ['/console/', {}],
      ['/v1/session', { authorization: `Bearer ${under.keys.admin}` }],
      ['/v1/session', {}],
      ['/docs', {}],
    ] as const) {
      const response = await fetch(`${base}${path}`, { headers });
      expect([path, response.headers.get('content-security-policy')]).toEqual([path, CONSOLE_CSP]);
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-frame-options')).toBe('DENY');
      expect(response.headers.get('referrer-policy')).toBe('no-referrer');
      expect(response.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(response.headers.get('strict-transport-security')).toBe('max-age=31536000; includeSubDomains');
    }
    const board = await fetch(`${base}/queues`, { headers: { authorization: basic } });
    expect(board.status).toBe(200);
    expect(board.headers.get('content-security-policy')).toBe(
      CONSOLE_CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'"),
    );
    expect(board.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('runs every screen of the web UI with no CSP violation', async () => {
    const page = await under.openConsole();
    const violations = await watchViolations(page.context());
    await page.reload();
    await page.getByLabel('API key', { exact: true }).fill(under.keys.admin);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('Signed in as').waitFor();
    const titles = await navigation(page).getByRole('link').allTextContents();
    expect(titles).toEqual(expect.arrayContaining(['Destinations', 'Mappings', 'Dashboard', 'Audit log']));
    for (const title of titles) await openScreen(page, title.trim());
    // The dashboard's live figures (server-sent events) arrive under connect-src 'self'.
    await openScreen(page, 'Dashboard');
    await page.waitForTimeout(2_500);
    expect(await violations(page)).toEqual([]);
  }, 90_000);

  it('renders the API docs and Bull Board with no violation but the board’s third-party fonts', async () => {
    const context = await under.browser.newContext({
      httpCredentials: { username: 'ops', password: under.keys.admin },
    });
    try {
      const violations = await watchViolations(context);
      const docs = await context.newPage();
      await docs.goto(`${under.tessera.baseUrl}/docs`);
      await docs.getByText('/v1/session', { exact: true }).first().waitFor({ timeout: 15_000 });
      expect(await violations(docs)).toEqual([]);

      const board = await context.newPage();
      await board.goto(`${under.tessera.baseUrl}/queues`);
      await board.getByText('maintenance', { exact: true }).first().waitFor({ timeout: 15_000 });
      // Its page asks Google for its fonts: refused (no third-party requests from the console), system fonts shown.
      expect((await violations(board)).map((violation) => violation.split('?')[0])).toEqual([
        'style-src-elem https://fonts.googleapis.com/css2',
      ]);
    } finally {
      await context.close();
    }
  }, 60_000);

  it('cannot be framed by a page of another origin', async () => {
    // A page of another origin (another port) that frames the console.
    const framing = createServer((_request, response) =>
      response
        .writeHead(200, { 'content-type': 'text/html' })
        .end(
          `<!doctype html><title>framing</title><iframe src="${under.tessera.baseUrl}/console/"></iframe>`,
        ),
    );
    await new Promise<void>((resolve) => framing.listen(0, '127.0.0.1', resolve));
    try {
      const page = await under.openConsole();
      await page.goto(`http://127.0.0.1:${(framing.address() as AddressInfo).port}/`);
      await page.waitForTimeout(1_500);
      const framed = page.frames().find((frame) => frame !== page.mainFrame());
      expect(framed).toBeDefined();
      // Chromium puts its own error page where frame-ancestors refuses: none of the console is in the frame.
      expect(await framed?.title()).not.toBe('Tessera console');
      expect(await framed?.locator('#root').count()).toBe(0);
    } finally {
      await new Promise((resolve) => framing.close(resolve));
    }
  });
});
