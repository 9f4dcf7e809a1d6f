import { randomBytes } from 'node:crypto';
import { signedHeaders, TEST_REDIS_URL } from '@tessera/testing';
import { startTessera, type TesseraProcess } from './tessera-process';

/** Where an end-to-end file's Tessera keeps its state: its own Redis prefix and data folder, and its workspace. */
export interface WorkspaceTesseraOptions {
  prefix: string;
  dataDir: string;
  workspaceFile: string;
  /** More environment (an admin key, a PostgreSQL URL, allowed hosts, poll intervals). */
  env?: Record<string, string>;
  /** Default 45 s: a fresh data folder on a busy machine (a CI run beside it) can take longer than 20 s. */
  startTimeoutMs?: number;
}

/**
 * The all-in-one process on a workspace file, without the demo, with a master key of its own: how the end-to-end
 * files that check what each ESP holds start Tessera.
 */
export function startWorkspaceTessera(options: WorkspaceTesseraOptions): Promise<TesseraProcess> {
  return startTessera(
    {
      REDIS_URL: TEST_REDIS_URL,
      TESSERA_REDIS_PREFIX: options.prefix,
      TESSERA_DATA_DIR: options.dataDir,
      TESSERA_WORKSPACE_FILE: options.workspaceFile,
      TESSERA_MASTER_KEY: randomBytes(32).toString('base64'),
      TESSERA_DEMO: 'off',
      ...options.env,
    },
    [],
    options.startTimeoutMs ?? 45_000,
  );
}

/**
 * Posts CloudEvents to a source as one batch, signed with the source's secret over the raw body, and answers the
 * status with the body when it is not 202 (so a refused batch says why in the test's failure).
 */
export async function sendSignedBatch(
  baseUrl: string,
  source: string,
  secret: string,
  events: readonly unknown[],
): Promise<{ status: number; body: string }> {
  const body = JSON.stringify(events);
  const response = await fetch(`${baseUrl}/v1/sources/${source}/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/cloudevents-batch+json', ...signedHeaders(secret, body) },
    body,
  });
  return { status: response.status, body: response.status === 202 ? '' : await response.text() };
}
