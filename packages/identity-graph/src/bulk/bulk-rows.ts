import { IDENTIFIER_TYPES, type IdentifierType } from '../identifiers';

/** One person in a migration file: their identifiers, hashed, and their consent to the link. */
export interface BulkMergeRow {
  ref: string;
  identifiers: Array<{ type: IdentifierType; scope?: string; sha256: string }>;
  consent: { reference: string; capturedAt: string };
}

export interface BulkRejectedRow {
  ref: string;
  reason: string;
}

/** A row that passed validation: identifiers deduplicated, scopes normalized, the consent time parsed. */
export interface ValidBulkRow {
  /** The row's position in the file, to report rows in file order. */
  row: number;
  ref: string;
  identifiers: Array<{ type: IdentifierType; scope: string; sha256: string }>;
  consent: { reference: string; capturedAt: Date };
}

export const MAX_BULK_ROWS = 100_000;

const SHA256_HEX = /^[0-9a-f]{64}$/i;
const isIdentifierType = (type: unknown): type is IdentifierType =>
  typeof type === 'string' && (IDENTIFIER_TYPES as readonly string[]).includes(type);
const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Why a row cannot be used, or its usable form. Reasons never echo a hash: they name positions. */
export function validateBulkRow(
  input: unknown,
  row: number,
  now: Date,
): { ok: true; row: ValidBulkRow } | { ok: false; reason: string } {
  if (!isRecord(input)) return { ok: false, reason: 'not an object' };
  if (typeof input.ref !== 'string' || input.ref.trim() === '') return { ok: false, reason: 'no ref' };
  const consent = input.consent;
  if (!isRecord(consent) || typeof consent.reference !== 'string' || consent.reference.trim() === '') {
    return { ok: false, reason: 'no consent: every row needs consent.reference and consent.capturedAt' };
  }
  const capturedAt = typeof consent.capturedAt === 'string' ? new Date(consent.capturedAt) : undefined;
  if (capturedAt === undefined || Number.isNaN(capturedAt.getTime())) {
    return { ok: false, reason: 'consent.capturedAt is not a date' };
  }
  if (capturedAt.getTime() > now.getTime())
    return { ok: false, reason: 'consent.capturedAt is in the future' };
  if (!Array.isArray(input.identifiers) || input.identifiers.length === 0) {
    return { ok: false, reason: 'no identifiers' };
  }
  const identifiers = new Map<string, ValidBulkRow['identifiers'][number]>();
  for (const [index, identifier] of (input.identifiers as unknown[]).entries()) {
    const position = `identifier ${index + 1}`;
    if (!isRecord(identifier)) return { ok: false, reason: `${position} is not an object` };
    if (!isIdentifierType(identifier.type)) {
      return { ok: false, reason: `${position}: unknown identifier type "${String(identifier.type)}"` };
    }
    // Brand ids are lowercase slugs, as the resolver scopes member ids.
    const scope = typeof identifier.scope === 'string' ? identifier.scope.trim().toLowerCase() : '';
    if (identifier.type === 'member' && scope === '') {
      return { ok: false, reason: `${position}: a member identifier needs its brand as scope` };
    }
    if (identifier.type !== 'member' && scope !== '') {
      return { ok: false, reason: `${position}: only member identifiers carry a scope` };
    }
    if (typeof identifier.sha256 !== 'string' || !SHA256_HEX.test(identifier.sha256)) {
      return { ok: false, reason: `${position}: sha256 is not 64 hex digits` };
    }
    const sha256 = identifier.sha256.toLowerCase();
    identifiers.set(`${identifier.type}\u0000${scope}\u0000${sha256}`, {
      type: identifier.type,
      scope,
      sha256,
    });
  }
  return {
    ok: true,
    row: {
      row,
      ref: input.ref,
      identifiers: [...identifiers.values()],
      consent: { reference: consent.reference, capturedAt },
    },
  };
}

/** Validates a file's rows; a ref used twice is refused after its first use (a report names rows by ref). */
export function validateBulkRows(
  rows: readonly unknown[],
  now: Date,
): { valid: ValidBulkRow[]; rejected: Array<BulkRejectedRow & { row: number }> } {
  const valid: ValidBulkRow[] = [];
  const rejected: Array<BulkRejectedRow & { row: number }> = [];
  const refs = new Set<string>();
  rows.forEach((input, row) => {
    const result = validateBulkRow(input, row, now);
    const ref = isRecord(input) && typeof input.ref === 'string' ? input.ref : `#${row + 1}`;
    if (!result.ok) rejected.push({ row, ref, reason: result.reason });
    else if (refs.has(ref)) rejected.push({ row, ref, reason: 'duplicate ref' });
    else {
      refs.add(ref);
      valid.push(result.row);
    }
  });
  return { valid, rejected };
}

/** A row's links: every identifier to the strongest one (first), n − 1 edges rather than n². */
export function starPairs(ids: readonly number[]): Array<[number, number]> {
  const [strongest, ...others] = ids;
  return others.map((other) => [strongest, other]);
}

/** size → how many profiles have that many identifiers. */
export function sizeHistogram(sizes: Iterable<number>): Record<string, number> {
  const histogram: Record<string, number> = {};
  for (const size of [...sizes].sort((a, b) => a - b))
    histogram[String(size)] = (histogram[String(size)] ?? 0) + 1;
  return histogram;
}
