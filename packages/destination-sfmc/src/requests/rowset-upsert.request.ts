import {
  type DestinationHttpClient,
  isDeliveryError,
  type OperationContext,
  RejectedError,
} from '@tessera/destination-kit';
import { endpointPath, SFMC_ENDPOINTS, SFMC_LIMITS } from '../sfmc-endpoints';
import type { SfmcSettings } from '../sfmc-settings';
import {
  chunkDrafts,
  columnOf,
  EMAIL_COLUMN,
  hasValues,
  type Omission,
  omitColumn,
  PHONE_COLUMN,
  PRIMARY_KEY_COLUMN,
  type RowDraft,
  rowsetBody,
} from './data-extension-row';
import {
  type ColumnRefusal,
  columnRefusalOf,
  rowsetErrorMessages,
  rowsetRejectionReason,
} from './row-refusals';

/*
 * The synchronous rowset upsert (`POST /hub/v1/dataevents/key:{key}/rowset`): all or nothing per request, at
 * most 50 rows and 5 MB. A refusal is settled here rather than by halving blindly: a column the data extension
 * lacks is left out of every row carrying it and the rows go again; other refusals halve the request until the
 * refused row is alone, which then goes again without the column SFMC refused (reported in `omitted`), is
 * skipped when SFMC needs a contact point the member lacks, or is rejected with SFMC's reasons.
 */

/** What became of one row. */
export type RowOutcome =
  | { status: 'ok'; omitted: Omission[] }
  | { status: 'skipped'; reason: string }
  | { status: 'retry'; afterMs: number; reason: string }
  | { status: 'rejected'; reason: string };

/** The contact point behind each column SFMC may require, for members who lack it. */
const CONTACT_COLUMNS: Record<string, string> = {
  [EMAIL_COLUMN.toLowerCase()]: 'email address',
  [PHONE_COLUMN.toLowerCase()]: 'phone number',
};

/** Upserts drafts through rowsets of ≤ 50 rows and ≤ 5 MB; one outcome per draft, in order. */
export async function upsertRowsets(
  drafts: readonly RowDraft[],
  { http, settings }: OperationContext<SfmcSettings>,
): Promise<RowOutcome[]> {
  const outcomes: RowOutcome[] = [];
  const chunks = chunkDrafts(drafts, SFMC_LIMITS.syncRowsPerRequest, SFMC_LIMITS.requestBytes, rowsetBody);
  for (const chunk of chunks) {
    const settled = await settle(chunk, (rows) => postRowset(http, settings.dataExtensionKey, rows));
    outcomes.push(...settled);
    const retry = settled.find((outcome) => outcome.status === 'retry');
    if (retry !== undefined) {
      // SFMC is throttling or failing: the chunks not yet sent wait with these rows instead of hitting it.
      const rest = drafts.length - outcomes.length;
      outcomes.push(...Array.from({ length: rest }, () => ({ ...retry })));
      break;
    }
  }
  return outcomes;
}

function postRowset(http: DestinationHttpClient, key: string, drafts: readonly RowDraft[]): Promise<unknown> {
  return http.post(
    endpointPath(SFMC_ENDPOINTS.rowset.path, { key }),
    rowsetBody(drafts.map((draft) => draft.row)),
  );
}

async function settle(
  group: RowDraft[],
  send: (drafts: RowDraft[]) => Promise<unknown>,
): Promise<RowOutcome[]> {
  const sending = group.filter(hasValues);
  const results = new Map<RowDraft, RowOutcome>();
  if (sending.length > 0) {
    (await settleSending(sending, send)).forEach((outcome, index) =>
      results.set(sending[index] as RowDraft, outcome),
    );
  }
  // A row left with its key only (every column refused, or nothing to write) needs no request.
  return group.map((draft) => results.get(draft) ?? { status: 'ok', omitted: draft.omitted });
}

async function settleSending(
  group: RowDraft[],
  send: (drafts: RowDraft[]) => Promise<unknown>,
): Promise<RowOutcome[]> {
  try {
    await send(group);
    return group.map((draft) => ({ status: 'ok', omitted: draft.omitted }));
  } catch (error) {
    if (!isDeliveryError(error) || error.kind === 'auth') throw error;
    if (error.kind === 'retryable') {
      return group.map(() => ({
        status: 'retry',
        afterMs: error.retryAfterMs ?? 1_000,
        reason: error.message,
      }));
    }
    const refused = error instanceof RejectedError ? error : new RejectedError(error.message);
    const refusals = rowsetErrorMessages(refused)
      .map(columnRefusalOf)
      .filter((refusal): refusal is ColumnRefusal => refusal !== undefined);
    if (leaveOutUnknownColumns(group, refusals)) return settle(group, send);
    if (group.length > 1) {
      const middle = Math.ceil(group.length / 2);
      return [...(await settle(group.slice(0, middle), send)), ...(await settle(group.slice(middle), send))];
    }
    const draft = group[0] as RowDraft;
    const verdict = singleRowVerdict(draft, refusals, rowsetRejectionReason(refused));
    return verdict === 'again' ? settle(group, send) : [verdict];
  }
}

/** Leaves columns the data extension lacks out of every row carrying them; true when any row changed. */
function leaveOutUnknownColumns(group: readonly RowDraft[], refusals: readonly ColumnRefusal[]): boolean {
  let changed = false;
  for (const refusal of refusals.filter((candidate) => candidate.kind === 'unknown-column')) {
    for (const draft of group) {
      const column = columnOf(draft, refusal.column);
      if (column === undefined || column === PRIMARY_KEY_COLUMN) continue;
      omitColumn(draft, column, `SFMC: ${refusal.message}`);
      changed = true;
    }
  }
  return changed;
}

/**
 * What to do with a row SFMC refused on its own: send it again without the refused columns, skip it (the data
 * extension needs a contact point the member lacks), or reject it with SFMC's reasons.
 */
export function singleRowVerdict(
  draft: RowDraft,
  refusals: readonly ColumnRefusal[],
  rejection: string,
): 'again' | RowOutcome {
  let changed = false;
  for (const refusal of refusals) {
    const column = columnOf(draft, refusal.column);
    if (refusal.kind === 'required' && (column === undefined || draft.row[column] === '')) {
      const lower = refusal.column.toLowerCase();
      const left = draft.omitted.find((omission) => omission.column.toLowerCase() === lower);
      if (left !== undefined) {
        return {
          status: 'rejected',
          reason: `SFMC requires ${left.column}, and refused its value: ${left.reason}`,
        };
      }
      const contactPoint = CONTACT_COLUMNS[lower];
      if (contactPoint !== undefined) {
        return {
          status: 'skipped',
          reason: `The SFMC data extension requires ${refusal.column} and the member has no ${contactPoint}`,
        };
      }
      return { status: 'rejected', reason: rejection };
    }
    if (column !== undefined && column !== PRIMARY_KEY_COLUMN) {
      omitColumn(draft, column, `SFMC: ${refusal.message}`);
      changed = true;
    }
  }
  return changed ? 'again' : { status: 'rejected', reason: rejection };
}
