import type { BatchResult, ItemResult, ProfileMerge, SettingProperty } from './destination-definition';

/*
 * ESP merges cannot be undone (Klaviyo merges, Braze merges, an SFMC contact deleted), while Tessera's identity
 * graph can reverse a merge. So every destination that merges shares one gate, applied by the runner before its
 * `mergeProfiles` sees an item: only merges that are certain go out — deterministic ones (a shared strong
 * identifier) and ones an operator approved — and only once the cooling-off period has passed without the graph
 * reversing them. A merge still cooling off is answered `retry` for the time left, so it is sent when the period
 * ends and never before.
 */

/** The cooling-off of a destination whose settings name none: 24 hours. */
export const DEFAULT_MERGE_COOLING_OFF_MINUTES = 1_440;

/** The kit's setting of every destination that declares `mergeProfiles`, added by `defineDestination`. */
export const MERGE_COOLING_OFF_SETTING: SettingProperty = {
  type: 'integer',
  minimum: 0,
  maximum: 43_200,
  default: DEFAULT_MERGE_COOLING_OFF_MINUTES,
  description:
    'Minutes a merge must stand in the identity graph before it is sent (ESP merges cannot be undone; default 1440)',
};

/** The cooling-off (ms) a destination's (validated) settings name; absent = the default. */
export function mergeCoolingOffMsOf(settings: Record<string, unknown>): number {
  const minutes = settings['mergeCoolingOffMinutes'];
  return (
    (Number.isInteger(minutes) && (minutes as number) >= 0
      ? (minutes as number)
      : DEFAULT_MERGE_COOLING_OFF_MINUTES) * 60_000
  );
}

/** Whether a merge may be sent now: `send`, `wait` (cooling off, with the time left), or `refuse` (never). */
export type MergeRelease =
  | { action: 'send' }
  | { action: 'wait'; afterMs: number; until: string }
  | { action: 'refuse'; reason: string };

/** Why a probabilistic merge is never sent to `espName`. */
export function probabilisticMergeReason(espName: string): string {
  return `${espName} merges are irreversible: only deterministic or human-approved merges are sent (approve this one in review to send it)`;
}

/** Decides whether `merge` may go to the ESP named `espName` at `nowMs`, given the cooling-off period. */
export function decideMergeRelease(
  merge: ProfileMerge,
  coolingOffMs: number,
  nowMs: number,
  espName = 'ESP',
): MergeRelease {
  if (merge.basis === 'probabilistic') return { action: 'refuse', reason: probabilisticMergeReason(espName) };
  if (merge.customerId === merge.mergedCustomerId)
    return { action: 'refuse', reason: `Cannot merge ${merge.customerId} into itself` };
  const mergedAtMs = Date.parse(merge.mergedAt);
  if (Number.isNaN(mergedAtMs)) {
    return {
      action: 'refuse',
      reason: `mergedAt is not an ISO-8601 time: ${JSON.stringify(merge.mergedAt)}`,
    };
  }
  const releaseAtMs = mergedAtMs + coolingOffMs;
  if (releaseAtMs > nowMs) {
    return { action: 'wait', afterMs: releaseAtMs - nowMs, until: new Date(releaseAtMs).toISOString() };
  }
  return { action: 'send' };
}

/**
 * Splits a batch of merges into those due now (sent by `send`, which answers for them in order) and the others,
 * answered here: retried after their cooling-off, or refused with the reason.
 */
export async function releaseDueMerges(
  merges: ProfileMerge[],
  call: { coolingOffMs: number; nowMs: number; espName: string },
  send: (due: ProfileMerge[]) => Promise<BatchResult>,
): Promise<BatchResult> {
  const results: ItemResult[] = new Array(merges.length);
  const due: number[] = [];
  merges.forEach((merge, index) => {
    const release = decideMergeRelease(merge, call.coolingOffMs, call.nowMs, call.espName);
    if (release.action === 'refuse') results[index] = { status: 'rejected', reason: release.reason };
    else if (release.action === 'wait')
      results[index] = {
        status: 'retry',
        afterMs: release.afterMs,
        reason: `Cooling off until ${release.until} before an irreversible ${call.espName} merge`,
      };
    else due.push(index);
  });
  if (due.length === 0) return results;
  const sent = await send(due.map((index) => merges[index] as ProfileMerge));
  due.forEach((index, position) => {
    results[index] = sent[position] ?? {
      status: 'rejected',
      reason: 'The merge was answered with no result',
    };
  });
  return results;
}
