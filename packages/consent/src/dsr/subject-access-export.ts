import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ProfileView } from '@tessera/identity-graph';
import type { LedgerEntry } from '../ledger/consent-ledger.repository';
import type { Suppression } from '../ledger/suppression-list.repository';

/** The copy of a person's data an access request answers with (their own data: PII in the clear). */
export interface SubjectAccessExport {
  requestId: string;
  generatedAt: string;
  requestedAt: string;
  subject: {
    /** Every profile id linked to the subject (active and merged-away). */
    customerIds: string[];
    /** Blind indexes of the contact points linked to the subject. */
    subjectKeys: string[];
  };
  /** Each active profile: traits, identifiers and merge lineage, with PII revealed. */
  profiles: ProfileView[];
  /** The consent ledger entries recorded for any of the customer ids or contact points, oldest first. */
  consentHistory: LedgerEntry[];
  suppressions: Suppression[];
  deliveryLog: unknown[];
}

/** Request ids become file names: only this shape is accepted. */
const SAFE_ID = /^[A-Za-z0-9_-]{1,100}$/;

/**
 * Writes an export as `<dir>/<requestId>.json`, readable by the owner only (0600, in a 0700 folder when it
 * creates it). Exports are purged by `ExportFolderRetention`. Returns the file's path and size.
 */
export async function writeSubjectAccessExport(
  dir: string,
  document: SubjectAccessExport,
): Promise<{ path: string; bytes: number }> {
  if (!SAFE_ID.test(document.requestId)) throw new Error('writeSubjectAccessExport: unsafe request id');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${document.requestId}.json`);
  const body = `${JSON.stringify(document, null, 2)}\n`;
  await writeFile(path, body, { mode: 0o600 });
  // A re-run overwrites an existing file, whose mode writeFile keeps: set it again.
  await chmod(path, 0o600);
  return { path, bytes: Buffer.byteLength(body) };
}
