import {
  ManualClock,
  type EmulatorTools,
  type RateWindow,
  type SandboxResponse,
} from '@tessera/destination-kit';
import { KlaviyoEmulator, type KlaviyoEmulatorOptions } from './klaviyo.emulator';

/* Test support for the emulator's specs (not exported from the package). */

export const START = Date.parse('2026-08-01T00:00:00Z');
export const API_KEY = 'pk_sandbox_test';

/** A tiny sliding-log limiter for tests (the kit's real one is not a dependency of these specs). */
export function slidingLimiter(clock: ManualClock): EmulatorTools['rateLimit'] {
  const logs = new Map<string, number[]>();
  return (key: string, windows: readonly RateWindow[]) => {
    const now = clock.now();
    let wait = 0;
    for (const window of windows) {
      const log = (logs.get(`${key}|${window.perMs}`) ?? []).filter((t) => t > now - window.perMs);
      logs.set(`${key}|${window.perMs}`, log);
      const oldest = log[log.length - window.requests];
      if (log.length >= window.requests && oldest !== undefined) {
        wait = Math.max(wait, oldest + window.perMs - now);
      }
    }
    if (wait > 0) return wait;
    for (const window of windows) logs.get(`${key}|${window.perMs}`)?.push(now);
    return undefined;
  };
}

export interface SendOptions {
  query?: Record<string, string>;
  headers?: Record<string, string | undefined>;
  /** Raw body bytes instead of JSON-encoding `body`. */
  raw?: Buffer;
}

export interface ErrorBody {
  errors: Array<{
    id: string;
    status: number;
    code: string;
    title: string;
    detail: string;
    source: { pointer?: string; parameter?: string };
    links: object;
    meta: Record<string, unknown>;
  }>;
}

export function setup(options: KlaviyoEmulatorOptions = {}) {
  const emulator = new KlaviyoEmulator(options);
  const clock = new ManualClock(START);
  const limiter = { rateLimit: slidingLimiter(clock) };
  const tools: EmulatorTools = {
    clock,
    rateLimit: (key, windows) => limiter.rateLimit(key, windows),
    limitsLifted: false,
  };
  const send = async (method: string, path: string, body?: unknown, opts: SendOptions = {}) => {
    const rawBody = opts.raw ?? (body === undefined ? Buffer.alloc(0) : Buffer.from(JSON.stringify(body)));
    const headers: Record<string, string | undefined> = {
      authorization: `Klaviyo-API-Key ${API_KEY}`,
      revision: '2026-07-15',
      ...(body === undefined && opts.raw === undefined ? {} : { 'content-type': 'application/vnd.api+json' }),
      ...opts.headers,
    };
    const response: SandboxResponse = await emulator.handle(
      { method, path, query: new URLSearchParams(opts.query ?? {}), headers, rawBody },
      tools,
    );
    return response;
  };
  return { emulator, clock, limiter, tools, send };
}

/** The single error of a Klaviyo error document (fails the test when the body is not one). */
export function errorOf(response: SandboxResponse): ErrorBody['errors'][number] {
  const errors = (response.body as ErrorBody).errors;
  expect(errors).toHaveLength(1);
  const [error] = errors;
  if (error === undefined) throw new Error('no error in the body');
  expect(error).toEqual({
    id: expect.stringMatching(/^[0-9a-f-]{36}$/),
    status: response.status,
    code: expect.any(String),
    title: expect.any(String),
    detail: expect.any(String),
    source: expect.any(Object),
    links: {},
    meta: expect.any(Object),
  });
  return error;
}

export function profileBody(attributes: Record<string, unknown>, id?: string) {
  return { data: { type: 'profile', ...(id === undefined ? {} : { id }), attributes } };
}

/** Data of a JSON:API response. */
export function dataOf<T = Record<string, unknown>>(response: SandboxResponse): T {
  return (response.body as { data: T }).data;
}

export type Profile = { id: string; attributes: Record<string, unknown> };

/** Creates or updates a profile through profile-import (fails the test unless Klaviyo answers 200 or 201). */
export async function importProfile(
  send: ReturnType<typeof setup>['send'],
  attributes: Record<string, unknown>,
): Promise<Profile> {
  const response = await send('POST', '/api/profile-import', profileBody(attributes));
  expect([200, 201]).toContain(response.status);
  return dataOf<Profile>(response);
}
