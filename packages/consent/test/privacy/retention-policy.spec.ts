import { ConfigurationError } from '@tessera/runtime';
import {
  DEFAULT_RETENTION_POLICY,
  parseRetentionSetting,
  retentionCutoff,
  retentionPolicy,
  RetentionPolicyError,
  type DataClass,
  type RetentionRule,
} from '../../src/privacy';

function configurationMessage(raw: string): string {
  try {
    parseRetentionSetting(raw);
  } catch (error) {
    if (error instanceof ConfigurationError) return error.message;
    throw error;
  }
  throw new Error(`expected ${raw} to be refused`);
}

const KEPT =
  ' is kept for good (consent proof, the suppression list and the audit log are never purged); remove it from the retention policy';

describe('retention policy', () => {
  it('defaults to 30 days of raw events, 90 of delivery log, 30 after closure for PII, 7 for exports', () => {
    expect(DEFAULT_RETENTION_POLICY).toEqual({
      raw_events: { keepDays: 30 },
      delivery_log: { keepDays: 90 },
      closed_account_pii: { keepDays: 30 },
      exports: { keepDays: 7 },
    });
    expect(parseRetentionSetting(undefined)).toEqual(DEFAULT_RETENTION_POLICY);
    expect(parseRetentionSetting('  ')).toEqual(DEFAULT_RETENTION_POLICY);
    expect(parseRetentionSetting('{}')).toEqual(DEFAULT_RETENTION_POLICY);
  });

  it('lays overrides over the defaults', () => {
    expect(parseRetentionSetting('{"raw_events":{"keepDays":14},"exports":{"keepDays":2}}')).toEqual({
      raw_events: { keepDays: 14 },
      delivery_log: { keepDays: 90 },
      closed_account_pii: { keepDays: 30 },
      exports: { keepDays: 2 },
    });
    expect(retentionPolicy({ delivery_log: { keepDays: 365 } }).delivery_log).toEqual({ keepDays: 365 });
    expect(DEFAULT_RETENTION_POLICY.delivery_log.keepDays).toBe(90);
  });

  it('refuses the kept classes, saying they are kept', () => {
    expect(configurationMessage('{"consent_ledger":{"keepDays":365}}')).toBe(
      `TESSERA_RETENTION: consent_ledger${KEPT}`,
    );
    expect(configurationMessage('{"raw_events":{"keepDays":3},"suppression_list":{"keepDays":30}}')).toBe(
      `TESSERA_RETENTION: suppression_list${KEPT}`,
    );
    expect(configurationMessage('{"audit_log":{"keepDays":3650}}')).toBe(
      `TESSERA_RETENTION: audit_log${KEPT}`,
    );
    const overrides = { audit_log: { keepDays: 10 } } as unknown as Partial<Record<DataClass, RetentionRule>>;
    expect(() => retentionPolicy(overrides)).toThrow(RetentionPolicyError);
    expect(() => retentionPolicy(overrides)).toThrow(`retention policy: audit_log${KEPT}`);
  });

  it('refuses unknown classes, bad days and values that are not the expected JSON', () => {
    expect(configurationMessage('{"raw_event":{"keepDays":3}}')).toBe(
      'TESSERA_RETENTION: unknown data class "raw_event" (expected raw_events, delivery_log, closed_account_pii or exports)',
    );
    const days = 'must be a whole number of days from 1 to 36500, got';
    expect(configurationMessage('{"raw_events":{"keepDays":0}}')).toBe(
      `TESSERA_RETENTION: raw_events.keepDays ${days} 0`,
    );
    expect(configurationMessage('{"exports":{"keepDays":-7}}')).toBe(
      `TESSERA_RETENTION: exports.keepDays ${days} -7`,
    );
    expect(configurationMessage('{"exports":{"keepDays":1.5}}')).toBe(
      `TESSERA_RETENTION: exports.keepDays ${days} 1.5`,
    );
    expect(configurationMessage('{"exports":{"keepDays":"7"}}')).toBe(
      `TESSERA_RETENTION: exports.keepDays ${days} "7"`,
    );
    expect(configurationMessage('{"exports":{"keepDays":36501}}')).toBe(
      `TESSERA_RETENTION: exports.keepDays ${days} 36501`,
    );
    expect(configurationMessage('{"exports":{}}')).toBe(
      `TESSERA_RETENTION: exports.keepDays ${days} nothing`,
    );
    expect(configurationMessage('{"exports":7}')).toBe(
      'TESSERA_RETENTION: exports must be {"keepDays": <days>}',
    );
    expect(configurationMessage('{"exports":{"keepDays":7,"keepHours":1}}')).toBe(
      'TESSERA_RETENTION: exports must be {"keepDays": <days>}',
    );
    expect(configurationMessage('[]')).toBe(
      'TESSERA_RETENTION: expected an object keyed by data class (raw_events, delivery_log, closed_account_pii or exports), e.g. {"raw_events":{"keepDays":30}}',
    );
    expect(configurationMessage('raw_events=30')).toBe(
      'TESSERA_RETENTION: expected JSON such as {"raw_events":{"keepDays":30}}, got "raw_events=30"',
    );
  });

  it('puts the cutoff keepDays whole days before now', () => {
    const now = new Date('2026-11-23T10:00:00Z');
    expect(retentionCutoff(DEFAULT_RETENTION_POLICY, 'exports', now)).toEqual(
      new Date('2026-11-16T10:00:00Z'),
    );
    expect(retentionCutoff(DEFAULT_RETENTION_POLICY, 'delivery_log', now)).toEqual(
      new Date('2026-08-25T10:00:00Z'),
    );
  });
});
