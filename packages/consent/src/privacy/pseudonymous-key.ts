import { createHmac } from 'node:crypto';
import { normalizeEmail } from '@tessera/identity-graph';
import { ConfigurationError } from '@tessera/runtime';

/** The setting that holds the analytics key secrets, current first. */
export const ANALYTICS_KEYS_SETTING = 'TESSERA_ANALYTICS_KEYS';

/** A secret shorter than this is refused: HMAC-SHA-256 keys should carry the hash's full 256 bits. */
export const MIN_SECRET_BYTES = 32;

/** One version of the analytics key secret. */
export interface AnalyticsKeyVersion {
  /** Letters, digits, `.`, `_` or `-` (no `:`), e.g. `v2`; it prefixes every key made with it. */
  version: string;
  secret: Buffer;
}

/** The current secret, which makes new keys, and the previous ones, still known so keys can be joined. */
export interface AnalyticsKeySet {
  current: AnalyticsKeyVersion;
  previous?: AnalyticsKeyVersion[];
}

/** An email address that does not normalize has no analytics key (`reason` says why, never the value). */
export class UnkeyableEmailError extends Error {
  constructor(readonly reason: string) {
    super(`no analytics key for this value: ${reason}`);
    this.name = 'UnkeyableEmailError';
  }
}

const VERSION = /^[A-Za-z0-9._-]{1,32}$/;
const KEY = /^([A-Za-z0-9._-]{1,32}):([0-9a-f]{64})$/;
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/;

/** What is wrong with a version and its secret, or undefined. Messages never contain the secret. */
function problemWith(entry: AnalyticsKeyVersion): string | undefined {
  if (!VERSION.test(entry.version)) {
    return `version "${entry.version}" must be 1 to 32 letters, digits, ".", "_" or "-"`;
  }
  if (entry.secret.length < MIN_SECRET_BYTES) {
    return (
      `the secret of ${entry.version} is ${entry.secret.length} bytes; ` +
      `at least ${MIN_SECRET_BYTES} are needed (e.g. \`openssl rand -base64 32\`)`
    );
  }
  return undefined;
}

function problemWithSet(entries: AnalyticsKeyVersion[]): string | undefined {
  const seen = new Set<string>();
  for (const entry of entries) {
    const problem = problemWith(entry);
    if (problem !== undefined) return problem;
    if (seen.has(entry.version)) return `version ${entry.version} is listed twice`;
    seen.add(entry.version);
  }
  return undefined;
}

/**
 * Pseudonymous analytics keys: `<version>:<hex HMAC-SHA-256 of the normalized email>` under a versioned
 * secret, so analytics can count and join people without holding their addresses. The input is exactly
 * the normalized email (trimmed, NFC, lower case), so anyone holding the secret can recompute a key with
 * any HMAC tool. The current version makes new keys; previous versions are kept so that, across a
 * rotation, `keysFor` gives a person's key under every known version and old keys can still be joined.
 */
export class PseudonymousKeys {
  private readonly current: AnalyticsKeyVersion;
  private readonly all: AnalyticsKeyVersion[];

  constructor(keys: AnalyticsKeySet) {
    const all = [keys.current, ...(keys.previous ?? [])];
    const problem = problemWithSet(all);
    if (problem !== undefined) throw new Error(`analytics keys: ${problem}`);
    this.current = { version: keys.current.version, secret: Buffer.from(keys.current.secret) };
    this.all = [
      this.current,
      ...all.slice(1).map((e) => ({ version: e.version, secret: Buffer.from(e.secret) })),
    ];
  }

  /** The version new keys are made with. */
  get currentVersion(): string {
    return this.current.version;
  }

  /** Every known version, current first. */
  get versions(): string[] {
    return this.all.map((entry) => entry.version);
  }

  /** The key of an email under the current version; throws `UnkeyableEmailError` if it does not normalize. */
  keyFor(email: string): string {
    return keyWith(this.current, normalized(email));
  }

  /** As `keyFor`, but undefined for a value that is not an email address. */
  tryKeyFor(email: string): string | undefined {
    const result = normalizeEmail(email);
    return result.ok ? keyWith(this.current, result.value) : undefined;
  }

  /** The key of an email under every known version, current first (to join data across a rotation). */
  keysFor(email: string): string[] {
    const value = normalized(email);
    return this.all.map((entry) => keyWith(entry, value));
  }

  /** The version a key was made with, or undefined when it is not a key or its version is unknown here. */
  versionOf(key: string): string | undefined {
    const match = KEY.exec(key);
    if (match === null) return undefined;
    return this.all.some((entry) => entry.version === match[1]) ? match[1] : undefined;
  }
}

function normalized(email: string): string {
  const result = normalizeEmail(email);
  if (!result.ok) throw new UnkeyableEmailError(result.reason);
  return result.value;
}

function keyWith(entry: AnalyticsKeyVersion, normalizedEmail: string): string {
  return `${entry.version}:${createHmac('sha256', entry.secret).update(normalizedEmail, 'utf8').digest('hex')}`;
}

const SETTING_SHAPE =
  'expected comma-separated version:base64-secret pairs, current first (e.g. "v2:<base64>,v1:<base64>")';

/**
 * Parses a setting such as `TESSERA_ANALYTICS_KEYS="v2:<base64>,v1:<base64>"` (the first is current).
 * Throws `ConfigurationError` on a bad value; messages name the entry or version, never a secret.
 */
export function parseAnalyticsKeys(raw: string, setting: string = ANALYTICS_KEYS_SETTING): AnalyticsKeySet {
  const parts = raw.split(',').map((part) => part.trim());
  if (raw.trim() === '') throw new ConfigurationError(setting, SETTING_SHAPE);
  const entries = parts.map((part, index): AnalyticsKeyVersion => {
    const colon = part.indexOf(':');
    const version = colon < 0 ? '' : part.slice(0, colon).trim();
    const encoded = colon < 0 ? '' : part.slice(colon + 1).trim();
    if (colon < 0 || !VERSION.test(version) || encoded === '') {
      throw new ConfigurationError(
        setting,
        `entry ${index + 1} is not version:base64-secret (a version is 1 to 32 letters, digits, ".", "_" or "-"); ${SETTING_SHAPE}`,
      );
    }
    if (!BASE64.test(encoded)) {
      throw new ConfigurationError(setting, `the secret of ${version} is not base64`);
    }
    // Node's base64 decoder reads both the standard and the URL-safe alphabet.
    return { version, secret: Buffer.from(encoded, 'base64') };
  });
  const problem = problemWithSet(entries);
  if (problem !== undefined) throw new ConfigurationError(setting, problem);
  return { current: entries[0], previous: entries.slice(1) };
}

/** The analytics keys from the environment, or undefined when `TESSERA_ANALYTICS_KEYS` is unset or empty. */
export function loadAnalyticsKeys(
  env: Record<string, string | undefined> = process.env,
): PseudonymousKeys | undefined {
  const raw = env[ANALYTICS_KEYS_SETTING];
  if (raw === undefined || raw.trim() === '') return undefined;
  return new PseudonymousKeys(parseAnalyticsKeys(raw));
}

/** Contact fields an export drops unless told otherwise. */
export const CONTACT_FIELDS: readonly string[] = ['phone', 'first_name', 'last_name', 'address'];

export interface PseudonymizeSpec {
  /** The field holding the email: it is replaced by the analytics key (current version). */
  replace: string;
  /** Where the key goes; default: the `replace` field itself. When different, the email field is removed. */
  into?: string;
  /** Fields removed from every row; default `CONTACT_FIELDS`. */
  drop?: readonly string[];
}

/**
 * Copies rows for an analytics export: the email field becomes the analytics key and the contact fields
 * are dropped; other fields are kept as they are. A row whose email is missing or does not normalize gets
 * `null` as its key (its address is never passed on). The input rows are not changed.
 */
export function pseudonymizeExport(
  keys: PseudonymousKeys,
  rows: Iterable<Record<string, unknown>>,
  spec: PseudonymizeSpec,
): Record<string, unknown>[] {
  const into = spec.into ?? spec.replace;
  const drop = new Set(spec.drop ?? CONTACT_FIELDS);
  const output: Record<string, unknown>[] = [];
  for (const row of rows) {
    const email = row[spec.replace];
    const key = typeof email === 'string' ? (keys.tryKeyFor(email) ?? null) : null;
    const copy: Record<string, unknown> = {};
    for (const [field, value] of Object.entries(row)) {
      // The key takes the email's place, so the columns of an export keep their order.
      if (field === spec.replace) copy[into] = key;
      else if (!drop.has(field) && field !== into) copy[field] = value;
    }
    if (!(into in copy)) copy[into] = key;
    output.push(copy);
  }
  return output;
}
