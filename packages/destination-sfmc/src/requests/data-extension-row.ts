import type { ProfileUpsert, SegmentMembership } from '@tessera/destination-kit';
import { segmentColumn, type SfmcSettings } from '../sfmc-settings';

/*
 * Tessera profiles live as rows of one data extension keyed by `TesseraId` (= customer id). A row travels as a
 * draft that remembers which Tessera field each column carries, so that a column SFMC refuses can be left out
 * and reported against the field it came from.
 */

export const PRIMARY_KEY_COLUMN = 'TesseraId';
/** The columns filled from the member's contact points. */
export const EMAIL_COLUMN = 'EmailAddress';
export const PHONE_COLUMN = 'Phone';

export type ColumnValue = string | number | boolean;
/** One data extension row: the primary key plus column values. */
export type DataExtensionRow = { [PRIMARY_KEY_COLUMN]: string } & Record<string, ColumnValue>;

/** A column SFMC refused and that was left out of the row, by the Tessera field it carried. */
export interface Omission {
  column: string;
  field: string;
  reason: string;
}

/** A row on its way to SFMC. */
export interface RowDraft {
  row: DataExtensionRow;
  /** Column → the Tessera field it carries (`email`, `phone`, an attribute, or `segment:<name>`). */
  sources: Record<string, string>;
  /** Columns SFMC refused, left out of `row`. */
  omitted: Omission[];
}

/** Tessera attributes with a conventional column of their own (`fieldMapping` still wins). */
const STANDARD_COLUMNS: Record<string, string> = { first_name: 'FirstName', last_name: 'LastName' };
const COLUMN_NAME = /^[A-Za-z_][A-Za-z0-9_ ]{0,127}$/;

/** The column an attribute goes to: its `fieldMapping`, its conventional column, or its own name. */
export function attributeColumn(settings: Pick<SfmcSettings, 'fieldMapping'>, name: string): string {
  return settings.fieldMapping[name] ?? STANDARD_COLUMNS[name] ?? name;
}

/** A draft, or why the item cannot become one. */
export type DraftOrProblem = { draft: RowDraft } | { problem: string };

/** A value as a data extension column takes it: dates as ISO-8601, structures as JSON, null as empty. */
export function columnValue(value: unknown): ColumnValue | undefined {
  if (value === undefined) return undefined;
  if (value === null) return '';
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') return value;
  return JSON.stringify(value);
}

function newDraft(customerId: string): RowDraft {
  return { row: { [PRIMARY_KEY_COLUMN]: customerId }, sources: {}, omitted: [] };
}

function setColumn(draft: RowDraft, column: string, field: string, value: ColumnValue): void {
  draft.row[column] = value;
  draft.sources[column] = field;
}

/** The row of a profile: TesseraId, EmailAddress, Phone, FirstName, LastName and the (mapped) attributes. */
export function profileRow(
  item: ProfileUpsert,
  settings: Pick<SfmcSettings, 'fieldMapping'>,
): DraftOrProblem {
  const draft = newDraft(item.customerId);
  if (item.email !== undefined) setColumn(draft, EMAIL_COLUMN, 'email', item.email);
  if (item.phone !== undefined) setColumn(draft, PHONE_COLUMN, 'phone', item.phone);
  for (const [name, raw] of Object.entries(item.attributes)) {
    const value = columnValue(raw);
    if (value === undefined) continue;
    const column = attributeColumn(settings, name);
    if (!COLUMN_NAME.test(column) || column === PRIMARY_KEY_COLUMN) {
      return {
        problem: `Attribute "${name}" maps to "${column}", which is not a usable data extension column (map it in fieldMapping)`,
      };
    }
    setColumn(draft, column, name, value);
  }
  return { draft };
}

/** The field a segment's column carries, as drafts and omissions name it. */
export const segmentField = (segment: string): string => `segment:${segment}`;

/** The row setting a segment's boolean column. */
export function segmentRow(
  item: SegmentMembership,
  settings: Pick<SfmcSettings, 'segmentColumns'>,
  member: boolean,
): DraftOrProblem {
  const column = segmentColumn(settings, item.segment);
  if (!COLUMN_NAME.test(column) || column === PRIMARY_KEY_COLUMN) {
    return {
      problem: `Segment "${item.segment}" has no usable data extension column (map it in segmentColumns)`,
    };
  }
  const draft = newDraft(item.customerId);
  setColumn(draft, column, segmentField(item.segment), member);
  if (item.email !== undefined) setColumn(draft, EMAIL_COLUMN, 'email', item.email);
  return { draft };
}

/** Drafts keyed by TesseraId, merged in input order (later values win), and where each input draft went. */
export function mergeDrafts(drafts: readonly RowDraft[]): { drafts: RowDraft[]; outputIndex: number[] } {
  const slots = new Map<string, number>();
  const merged: RowDraft[] = [];
  const outputIndex = drafts.map((draft) => {
    const key = draft.row[PRIMARY_KEY_COLUMN];
    const slot = slots.get(key);
    if (slot === undefined) {
      slots.set(key, merged.push(copyDraft(draft)) - 1);
      return merged.length - 1;
    }
    const target = merged[slot] as RowDraft;
    Object.assign(target.row, draft.row);
    Object.assign(target.sources, draft.sources);
    return slot;
  });
  return { drafts: merged, outputIndex };
}

export function copyDraft(draft: RowDraft): RowDraft {
  return { row: { ...draft.row }, sources: { ...draft.sources }, omitted: [...draft.omitted] };
}

/** Leaves `column` out of the draft, recording SFMC's reason against the field it carried. */
export function omitColumn(draft: RowDraft, column: string, reason: string): void {
  if (!(column in draft.row) || column === PRIMARY_KEY_COLUMN) return;
  delete draft.row[column];
  draft.omitted.push({ column, field: draft.sources[column] ?? column, reason });
}

/** The column of `draft` named `name`, compared as SFMC compares column names (case-insensitively). */
export function columnOf(draft: RowDraft, name: string): string | undefined {
  const lower = name.toLowerCase();
  return Object.keys(draft.row).find((column) => column.toLowerCase() === lower);
}

/** True when the draft still carries something besides its primary key. */
export function hasValues(draft: RowDraft): boolean {
  return Object.keys(draft.row).some((column) => column !== PRIMARY_KEY_COLUMN);
}

/** The body of a synchronous rowset upsert. */
export function rowsetBody(
  rows: readonly DataExtensionRow[],
): { keys: Record<string, string>; values: Record<string, ColumnValue> }[] {
  return rows.map(({ [PRIMARY_KEY_COLUMN]: key, ...values }) => ({
    keys: { [PRIMARY_KEY_COLUMN]: key },
    values,
  }));
}

/**
 * Cuts drafts into requests of at most `maxRows` rows and `maxBytes` bytes of JSON body, as `bodyOf` would
 * serialise them (a single row larger than `maxBytes` still goes alone: SFMC's answer then rejects it).
 */
export function chunkDrafts(
  drafts: readonly RowDraft[],
  maxRows: number,
  maxBytes: number,
  bodyOf: (rows: DataExtensionRow[]) => unknown,
): RowDraft[][] {
  const emptyBytes = Buffer.byteLength(JSON.stringify(bodyOf([])));
  const chunks: RowDraft[][] = [];
  let current: RowDraft[] = [];
  let bytes = emptyBytes;
  for (const draft of drafts) {
    // A row's share of the body: its JSON plus the comma separating it from the next.
    const size = Buffer.byteLength(JSON.stringify(bodyOf([draft.row]))) - emptyBytes + 1;
    if (current.length > 0 && (current.length >= maxRows || bytes + size > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = emptyBytes;
    }
    current.push(draft);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}
