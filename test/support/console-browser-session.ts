import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { EspSandbox, type EspEmulator } from '@tessera/destination-kit';
import { newWebhookSecret } from '@tessera/runtime';
import { deleteKeysWithPrefix, signedHeaders, TEST_REDIS_URL, uniqueRedisPrefix } from '@tessera/testing';
import { createScratchDatabase, writeSportsWorkspace } from './pipeline-fixture';
import { REPO_ROOT, startTessera, type TesseraProcess } from './tessera-process';

// The console's web UI in Debian's headless Chromium against the real all-in-one process (API, pipeline and
// the UI it serves at /console/) on a scratch PostgreSQL database and a Redis prefix of its own.

export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];

export type ConsoleRole = 'admin' | 'marketer' | 'operator' | 'auditor';

/** A CloudEvent to send: its type and `data` (the id, source and time are filled in). */
export interface EventToSend {
  type: string;
  data: Record<string, unknown>;
}

export interface ConsoleUnderTest {
  tessera: TesseraProcess;
  browser: Browser;
  databaseUrl: string;
  /** The process's TESSERA_MASTER_KEY (to open its PII vault from the test). */
  masterKey: Buffer;
  /** The signing secret of the workspace file's source `sd-loyalty`. */
  loyaltySecret: string;
  /** One key per role (admin from TESSERA_ADMIN_KEY, the others created through the API). */
  keys: Record<ConsoleRole, string>;
  /** One control-plane call; the parsed answer, or a thrown error naming the status and the body. */
  api<T>(method: string, path: string, key: string, body?: unknown): Promise<T>;
  /** Posts the events (fresh ids) as one batch signed with `secret` to a source; the ingest's HTTP status. */
  post(sourceId: string, secret: string, events: readonly EventToSend[]): Promise<number>;
  /** A fresh browser context (its own sessionStorage) on the sign-in page. */
  openConsole(): Promise<Page>;
  /** A fresh context signed in with `key`. */
  signIn(key: string): Promise<Page>;
  /** Closes the browser contexts opened since the last call (for afterEach). */
  closeContexts(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Builds the UI when stale, starts the all-in-one process on a scratch database with the sports workspace
 * (destinations `sd-<type>` at the given emulators, served here) and a browser, and creates a key per role.
 */
export async function startConsoleUnderTest(
  label: string,
  emulators: readonly EspEmulator[],
  /** The workspace's destinations, given the sandbox's root URL (where each emulator is at `/<esp>`). */
  destinationsAt: (sandboxRoot: string) => { type: string; settings: Record<string, unknown> }[],
): Promise<ConsoleUnderTest> {
  execFileSync(process.execPath, [join(REPO_ROOT, 'scripts', 'build-console-web.js')], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const loyaltySecret = newWebhookSecret();
  const masterKey = randomBytes(32);
  const adminKey = `tsk_${randomBytes(32).toString('base64url')}`;
  const prefix = uniqueRedisPrefix();
  const dataDir = mkdtempSync(join(tmpdir(), `tessera-${label}-`));
  const redis = new Redis(TEST_REDIS_URL);
  const sandbox = new EspSandbox([...emulators], { limitsLifted: true });
  const database = await createScratchDatabase(label.replace(/\W/g, '_'));
  const root = await sandbox.listen();
  const workspaceFile = writeSportsWorkspace(dataDir, loyaltySecret, destinationsAt(root));
  const [tessera, browser] = await Promise.all([
    startTessera({
      REDIS_URL: TEST_REDIS_URL,
      TESSERA_REDIS_PREFIX: prefix,
      TESSERA_DATA_DIR: dataDir,
      DATABASE_URL: database.url,
      TESSERA_WORKSPACE_FILE: workspaceFile,
      TESSERA_MASTER_KEY: masterKey.toString('base64'),
      TESSERA_ADMIN_KEY: adminKey,
      TESSERA_DEMO: 'off',
    }),
    chromium.launch({ executablePath: '/usr/bin/chromium', args: CHROMIUM_ARGS }),
  ]);
  const contexts: BrowserContext[] = [];

  async function api<T>(method: string, path: string, key: string, body?: unknown): Promise<T> {
    const response = await fetch(`${tessera.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text}`);
    return JSON.parse(text) as T;
  }

  let eventSequence = 0;
  async function post(sourceId: string, secret: string, events: readonly EventToSend[]): Promise<number> {
    const body = JSON.stringify(
      events.map(({ type, data }) => ({
        specversion: '1.0',
        id: `${label}-${++eventSequence}`,
        source: 'https://loyalty.example.com',
        type,
        time: new Date().toISOString(),
        data,
      })),
    );
    const response = await fetch(`${tessera.baseUrl}/v1/sources/${sourceId}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/cloudevents-batch+json', ...signedHeaders(secret, body) },
      body,
    });
    await response.arrayBuffer();
    return response.status;
  }

  async function openConsole(): Promise<Page> {
    const context = await browser.newContext({ acceptDownloads: true });
    contexts.push(context);
    context.setDefaultTimeout(15_000);
    const page = await context.newPage();
    await page.goto(`${tessera.baseUrl}/console/`);
    return page;
  }

  async function signIn(key: string): Promise<Page> {
    const page = await openConsole();
    await enterKey(page, key);
    await page.getByText('Signed in as').waitFor();
    return page;
  }

  const keys: Record<ConsoleRole, string> = { admin: adminKey, marketer: '', operator: '', auditor: '' };
  for (const role of ['marketer', 'operator', 'auditor'] as const) {
    keys[role] = (
      await api<{ key: string }>('POST', '/v1/api-keys', adminKey, { name: `${role} key`, role })
    ).key;
  }

  return {
    tessera,
    browser,
    databaseUrl: database.url,
    masterKey,
    loyaltySecret,
    keys,
    api,
    post,
    openConsole,
    signIn,
    async closeContexts() {
      await Promise.all(contexts.splice(0).map((context) => context.close()));
    },
    async stop() {
      await browser.close();
      await tessera.stop();
      await sandbox.close();
      await deleteKeysWithPrefix(redis, prefix);
      await redis.quit();
      await database.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * The console under test for one spec file: started (as `startConsoleUnderTest`) before its tests, each test's
 * browser contexts closed after it, all stopped after the file. The handle answers once `beforeAll` has run.
 */
export function consoleUnderTestForFile(...args: Parameters<typeof startConsoleUnderTest>): ConsoleUnderTest {
  const under = {} as ConsoleUnderTest;
  let started: ConsoleUnderTest | undefined;
  beforeAll(async () => {
    started = await startConsoleUnderTest(...args);
    Object.assign(under, started);
  }, 90_000);
  afterEach(async () => {
    await started?.closeContexts();
  });
  afterAll(async () => {
    await started?.stop();
  });
  return under;
}

/** Fills in `key` on the sign-in page and submits it (what the console answers is the caller's to wait for). */
export async function enterKey(page: Page, key: string): Promise<void> {
  await page.getByLabel('API key', { exact: true }).fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** The console's navigation. */
export const navigation = (page: Page): Locator => page.getByRole('navigation', { name: 'Console' });

/** Goes to a screen by its navigation link and waits for its heading. */
export async function openScreen(page: Page, title: string): Promise<void> {
  await navigation(page).getByRole('link', { name: title, exact: true }).click();
  await page.getByRole('heading', { level: 1, name: title, exact: true }).waitFor();
}

/** The table row whose header cell (`<th scope="row">`) is exactly `name`. */
export const rowNamed = (page: Page, name: string): Locator =>
  page.getByRole('row').filter({ has: page.getByRole('rowheader', { name, exact: true }) });
