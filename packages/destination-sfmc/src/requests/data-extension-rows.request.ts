import {
  type BatchResult,
  coalesceProfileUpdates,
  type ItemResult,
  type OperationContext,
  type ProfileUpsert,
  type SegmentMembership,
} from '@tessera/destination-kit';
import type { SfmcSettings } from '../sfmc-settings';
import { upsertRowsAsync } from './async-rows.request';
import {
  type DraftOrProblem,
  mergeDrafts,
  type Omission,
  profileRow,
  type RowDraft,
  segmentField,
  segmentRow,
} from './data-extension-row';
import { type RowOutcome, upsertRowsets } from './rowset-upsert.request';

/*
 * `upsertProfiles`, `updateAttributes`, `addToSegment` and `removeFromSegment`: rows of the data extension,
 * one per customer. Up to `asyncRowsThreshold` rows go through synchronous rowsets, more through the
 * asynchronous API; either way every item gets its own result.
 */

/** Upserts profiles: one row per customer (the highest `version` wins), results fanned back to every item. */
export async function upsertProfileRows(
  items: ProfileUpsert[],
  context: OperationContext<SfmcSettings>,
): Promise<BatchResult> {
  const { profiles, outputIndex } = coalesceProfileUpdates(items);
  const profileResults = await upsertItems(
    profiles.map((profile) => profileRow(profile, context.settings)),
    () => undefined,
    context,
  );
  return outputIndex.map((index) => ({ ...profileResults[index] }) as ItemResult);
}

/** Sets (or clears) the segment column of each member's row. */
export function upsertSegmentRows(
  items: SegmentMembership[],
  member: boolean,
  context: OperationContext<SfmcSettings>,
): Promise<BatchResult> {
  return upsertItems(
    items.map((item) => segmentRow(item, context.settings, member)),
    // A segment column left out means the membership did not land: that item is rejected.
    (index) => segmentField((items[index] as SegmentMembership).segment),
    context,
  );
}

/**
 * Upserts the drafts of items (one per item, or its problem), merging drafts of one customer into one row.
 * `essentialField(i)` names the field item `i` exists for: when SFMC refuses its column the item is rejected
 * rather than reported ok with the field left out.
 */
async function upsertItems(
  prepared: DraftOrProblem[],
  essentialField: (index: number) => string | undefined,
  context: OperationContext<SfmcSettings>,
): Promise<BatchResult> {
  const valid: RowDraft[] = [];
  const validIndex: number[] = [];
  prepared.forEach((entry, index) => {
    if ('draft' in entry) {
      valid.push(entry.draft);
      validIndex.push(index);
    }
  });
  const { drafts, outputIndex } = mergeDrafts(valid);
  const outcomes = await upsertDrafts(drafts, context);
  const results: ItemResult[] = prepared.map((entry) =>
    'problem' in entry ? { status: 'rejected', reason: entry.problem } : { status: 'ok' },
  );
  validIndex.forEach((itemIndex, validPosition) => {
    const slot = outputIndex[validPosition] ?? -1;
    const outcome = outcomes[slot];
    const draft = drafts[slot];
    if (outcome === undefined || draft === undefined) return;
    const own = (valid[validPosition] as RowDraft).sources;
    results[itemIndex] = itemResultOf(outcome, own, essentialField(itemIndex));
  });
  return results;
}

/** An item's result from its row's outcome: only the columns the item itself carried count as its omissions. */
function itemResultOf(
  outcome: RowOutcome,
  ownSources: Record<string, string>,
  essentialField: string | undefined,
): ItemResult {
  if (outcome.status !== 'ok') return { ...outcome };
  const own = outcome.omitted.filter((omission) => ownSources[omission.column] === omission.field);
  const essential = own.find((omission) => omission.field === essentialField);
  if (essential !== undefined) return { status: 'rejected', reason: essential.reason };
  return own.length === 0 ? { status: 'ok' } : { status: 'ok', omittedFields: own.map(omittedField) };
}

function omittedField({ field, reason }: Omission): { field: string; reason: string } {
  return { field, reason };
}

/**
 * One outcome per draft: synchronous up to the threshold, asynchronous above it. Rows sent again after an
 * asynchronous request may go asynchronously once more (a column every row carried was refused); after that,
 * synchronously.
 */
export function upsertDrafts(
  drafts: RowDraft[],
  context: OperationContext<SfmcSettings>,
  round = 0,
): Promise<RowOutcome[]> {
  if (drafts.length === 0) return Promise.resolve([]);
  if (round > 1 || drafts.length <= context.settings.asyncRowsThreshold) {
    return upsertRowsets(drafts, context);
  }
  return upsertRowsAsync(drafts, context, (again) => upsertDrafts(again, context, round + 1));
}
