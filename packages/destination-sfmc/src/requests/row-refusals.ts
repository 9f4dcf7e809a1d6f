import { RejectedError } from '@tessera/destination-kit';

/*
 * What SFMC says when it refuses data extension rows. A rowset 400 says only "Unable to save rows for data
 * extension …" in `message` and lists the reasons in `additionalErrors`, one per refused value, each starting
 * with the column it is about: "EmailAddress: The value for column [EmailAddress] is not a valid email
 * address. Parse error [InvalidEmailAddress]". The asynchronous API reports the same messages per row.
 */

export type RefusalKind =
  /** The data extension has no such column: every row carrying it is refused. */
  | 'unknown-column'
  /** A required column is missing or empty. */
  | 'required'
  /** The value does not fit the column (type, length, format). */
  | 'invalid-value';

export interface ColumnRefusal {
  column: string;
  kind: RefusalKind;
  message: string;
}

/** The column a message is about: `Column: … [Column] …`, or the only bracketed name in it. */
function columnNamed(message: string): string | undefined {
  const prefixed = /^([A-Za-z_][A-Za-z0-9_ ]*): /.exec(message)?.[1];
  if (prefixed !== undefined && message.includes(`[${prefixed}]`)) return prefixed;
  const bracketed = [...message.matchAll(/\[([A-Za-z_][A-Za-z0-9_ ]*)\]/g)]
    .map((match) => match[1] as string)
    .filter((name) => !/^Invalid[A-Z]/.test(name));
  return bracketed.length === 1 ? bracketed[0] : undefined;
}

/** The column refusal a message states, or undefined when it names no column (a key problem, a bad request). */
export function columnRefusalOf(message: string): ColumnRefusal | undefined {
  const column = columnNamed(message);
  if (column === undefined) return undefined;
  const kind: RefusalKind = /\bhas no column\b|\bdoes not exist\b|\bnot found\b|\binvalid column\b/i.test(
    message,
  )
    ? 'unknown-column'
    : /\bis required\b|\bcannot be (null|empty)\b/i.test(message)
      ? 'required'
      : 'invalid-value';
  return { column, kind, message };
}

/** The `additionalErrors` messages of a rowset refusal (empty when the body carries none). */
export function rowsetErrorMessages(error: RejectedError): string[] {
  if (error.body === undefined) return [];
  let body: unknown;
  try {
    body = JSON.parse(error.body);
  } catch {
    return [];
  }
  const additional = (body as { additionalErrors?: { message?: unknown }[] } | null)?.additionalErrors;
  return Array.isArray(additional)
    ? additional
        .map((entry) => entry?.message)
        .filter((message): message is string => typeof message === 'string')
    : [];
}

/** A rowset refusal's message with SFMC's reasons appended, for the rejection of the row that fails alone. */
export function rowsetRejectionReason(error: RejectedError): string {
  const detail = rowsetErrorMessages(error);
  return detail.length === 0 ? error.message : `${error.message}: ${detail.join('; ')}`;
}
