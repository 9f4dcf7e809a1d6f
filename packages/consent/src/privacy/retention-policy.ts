import { ConfigurationError } from '@tessera/runtime';

/** The setting that overrides the retention defaults, as JSON. */
export const RETENTION_SETTING = 'TESSERA_RETENTION';

/** The kinds of data Tessera deletes once they are old enough. */
export const DATA_CLASSES = ['raw_events', 'delivery_log', 'closed_account_pii', 'exports'] as const;
export type DataClass = (typeof DATA_CLASSES)[number];

/**
 * Data that is never purged by retention: the proof of consent, the suppression list (forgetting it would
 * mail people who asked not to be mailed) and the audit log. A policy naming one of them is refused.
 */
export const KEPT_CLASSES = ['consent_ledger', 'suppression_list', 'audit_log'] as const;
export type KeptClass = (typeof KEPT_CLASSES)[number];

/** The longest retention accepted, in days (100 years): anything above is a typo. */
export const MAX_KEEP_DAYS = 36_500;

export interface RetentionRule {
  /**
   * Whole days data of the class is kept. For `closed_account_pii` the days count from the account's
   * closure, not from when the data was written.
   */
  keepDays: number;
}

export type RetentionPolicy = Readonly<Record<DataClass, Readonly<RetentionRule>>>;

/** Raw events 30 days, delivery log 90 days, PII of closed accounts 30 days after closure, exports 7 days. */
export const DEFAULT_RETENTION_POLICY: RetentionPolicy = Object.freeze({
  raw_events: Object.freeze({ keepDays: 30 }),
  delivery_log: Object.freeze({ keepDays: 90 }),
  closed_account_pii: Object.freeze({ keepDays: 30 }),
  exports: Object.freeze({ keepDays: 7 }),
});

/** A retention policy that cannot be used; `detail` says why. */
export class RetentionPolicyError extends Error {
  constructor(readonly detail: string) {
    super(`retention policy: ${detail}`);
    this.name = 'RetentionPolicyError';
  }
}

export function isDataClass(name: string): name is DataClass {
  return (DATA_CLASSES as readonly string[]).includes(name);
}

export function isKeptClass(name: string): name is KeptClass {
  return (KEPT_CLASSES as readonly string[]).includes(name);
}

/** The message for anything that tries to give a kept class a retention. */
export function keptClassMessage(name: KeptClass): string {
  return `${name} is kept for good (consent proof, the suppression list and the audit log are never purged); remove it from the retention policy`;
}

const CLASS_LIST = `${DATA_CLASSES.slice(0, -1).join(', ')} or ${DATA_CLASSES[DATA_CLASSES.length - 1]}`;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Checks overrides and lays them over the defaults; returns the policy or what is wrong with them. */
function resolve(overrides: unknown): { policy: RetentionPolicy } | { problem: string } {
  if (!isRecord(overrides)) {
    return {
      problem: `expected an object keyed by data class (${CLASS_LIST}), e.g. {"raw_events":{"keepDays":30}}`,
    };
  }
  const policy: Record<DataClass, RetentionRule> = { ...DEFAULT_RETENTION_POLICY };
  for (const [name, rule] of Object.entries(overrides)) {
    if (isKeptClass(name)) return { problem: keptClassMessage(name) };
    if (!isDataClass(name)) return { problem: `unknown data class "${name}" (expected ${CLASS_LIST})` };
    if (!isRecord(rule) || Object.keys(rule).some((field) => field !== 'keepDays')) {
      return { problem: `${name} must be {"keepDays": <days>}` };
    }
    const days = rule.keepDays;
    if (typeof days !== 'number' || !Number.isInteger(days) || days < 1 || days > MAX_KEEP_DAYS) {
      return {
        problem: `${name}.keepDays must be a whole number of days from 1 to ${MAX_KEEP_DAYS}, got ${JSON.stringify(days) ?? 'nothing'}`,
      };
    }
    policy[name] = { keepDays: days };
  }
  return { policy: Object.freeze(policy) };
}

/** The defaults with these overrides; throws `RetentionPolicyError` on an unknown or kept class or bad days. */
export function retentionPolicy(overrides: Partial<Record<DataClass, RetentionRule>> = {}): RetentionPolicy {
  const result = resolve(overrides);
  if ('problem' in result) throw new RetentionPolicyError(result.problem);
  return result.policy;
}

/**
 * Parses `TESSERA_RETENTION`, JSON such as `{"raw_events":{"keepDays":14}}`, over the defaults; unset or
 * empty gives the defaults. Throws `ConfigurationError` on invalid JSON, an unknown or kept class, or days
 * that are not a whole number from 1 to 36500.
 */
export function parseRetentionSetting(
  raw: string | undefined,
  setting: string = RETENTION_SETTING,
): RetentionPolicy {
  if (raw === undefined || raw.trim() === '') return DEFAULT_RETENTION_POLICY;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    throw new ConfigurationError(
      setting,
      `expected JSON such as {"raw_events":{"keepDays":30}}, got "${raw}"`,
    );
  }
  const result = resolve(parsed);
  if ('problem' in result) throw new ConfigurationError(setting, result.problem);
  return result.policy;
}

const DAY_MS = 24 * 60 * 60 * 1000;

/** Data of the class written (or, for closed accounts, closed) before this instant is due for deletion. */
export function retentionCutoff(policy: RetentionPolicy, dataClass: DataClass, now: Date): Date {
  return new Date(now.getTime() - policy[dataClass].keepDays * DAY_MS);
}
