import { randomBytes } from 'node:crypto';
import { PiiVault } from '@tessera/store';
import type {
  ConsentChannel,
  ConsentDecision,
  ConsentEntry,
  LegalBasis,
  SubjectType,
} from '../../src/consent-contract';

export const vault = new PiiVault([randomBytes(32)]);

export const emailKey = (email: string) => vault.blindIndex('email', email);
export const phoneKey = (e164: string) => vault.blindIndex('phone', e164);

const SUBJECT_OF: Record<ConsentChannel, SubjectType> = {
  email: 'email',
  sms: 'phone',
  mobile_push: 'device',
};

export interface EntrySpec {
  key: string;
  decision: ConsentDecision;
  /** Minutes after 2026-01-01T00:00:00Z. */
  at: number;
  dedupeKey: string;
  brand?: string;
  channel?: ConsentChannel;
  purpose?: string;
  proofRef?: string;
  customerId?: string;
  legalBasis?: LegalBasis;
}

export const BASE_TIME = Date.UTC(2026, 0, 1);

export function minutes(at: number): string {
  return new Date(BASE_TIME + at * 60_000).toISOString();
}

export function entry(spec: EntrySpec): ConsentEntry {
  const channel = spec.channel ?? 'email';
  return {
    subject: {
      type: SUBJECT_OF[channel],
      key: spec.key,
      ...(spec.customerId === undefined ? {} : { customerId: spec.customerId }),
    },
    scope: { brand: spec.brand ?? 'sd', channel, purpose: spec.purpose ?? 'marketing' },
    decision: spec.decision,
    legalBasis: spec.legalBasis ?? 'consent',
    provenance: {
      source: 'src-web',
      noticeVersion: 'v1',
      ...(spec.proofRef === undefined ? {} : { proofRef: spec.proofRef }),
      capturedAt: minutes(spec.at),
      receivedAt: minutes(spec.at + 1),
      actor: 'source:src-web',
    },
    dedupeKey: spec.dedupeKey,
  };
}
