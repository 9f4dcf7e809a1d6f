import {
  type BatchResult,
  type DestinationHttpClient,
  type ItemResult,
  isDeliveryError,
  itemResultOfError,
  type OperationContext,
  type ProfileUpsert,
} from '@tessera/destination-kit';
import { KLAVIYO_ENDPOINTS, KLAVIYO_LIMITS } from '../klaviyo-endpoints';
import type { KlaviyoSettings } from '../klaviyo-settings';
import { bulkChunks, importInBulk, type JobOutcome } from './bulk-import-job.request';
import { klaviyoErrors, errorReason } from './klaviyo-error-body';
import { type KlaviyoProfileAttributes, klaviyoProfileAttributes } from './profile-attributes';
import {
  MAX_OMITTED_FIELDS,
  omitted,
  type OmittedField,
  type RefusedField,
  refusedField,
  withoutField,
} from './refused-fields';

export { bulkChunks, MAX_FAILED_POLLS } from './bulk-import-job.request';

interface ProfileResponse {
  data: { id: string };
}

/**
 * Upserts profiles: a small batch one `POST /api/profile-import` per profile (the ESP answers each at once,
 * with its id), a large one through bulk import jobs (≤ 10,000 profiles and ≤ 5 MB each), delivered once
 * Klaviyo accepted them. A profile over Klaviyo's 100 KB is rejected before anything is sent. When Klaviyo
 * refuses a field of a profile (an invalid phone number), the profile goes again without it and its ok result
 * names the field in `omittedFields`.
 */
export async function upsertProfiles(
  items: ProfileUpsert[],
  context: OperationContext<KlaviyoSettings>,
): Promise<BatchResult> {
  const results: (ItemResult | undefined)[] = items.map(() => undefined);
  const sendable: number[] = [];
  const profiles = items.map((item, index) => {
    const attributes = klaviyoProfileAttributes(item, context.settings);
    const bytes = Buffer.byteLength(JSON.stringify({ type: 'profile', attributes }));
    if (bytes > KLAVIYO_LIMITS.profileBytes) {
      results[index] = {
        status: 'rejected',
        reason: `Klaviyo takes at most ${KLAVIYO_LIMITS.profileBytes} bytes per profile; this one is ${bytes} bytes`,
      };
    } else {
      sendable.push(index);
    }
    return attributes;
  });
  const sent = await upsertAttributes(
    sendable.map((index) => profiles[index] as KlaviyoProfileAttributes),
    context,
    { round: 0, accepted: false },
  );
  sendable.forEach((index, position) => (results[index] = sent[position]));
  return results.map((result) => result ?? { status: 'rejected', reason: 'unreachable: no result' });
}

/**
 * Where a send stands: `round` counts the fields already left out of these profiles; `accepted` is true once
 * Klaviyo accepted part of the batch, after which nothing may be thrown (the kit would send it all again).
 */
interface SendState {
  round: number;
  accepted: boolean;
}

async function upsertAttributes(
  profiles: KlaviyoProfileAttributes[],
  context: OperationContext<KlaviyoSettings>,
  state: SendState,
): Promise<ItemResult[]> {
  if (profiles.length === 0) return [];
  if (profiles.length < context.settings.bulkImportMinProfiles) {
    const results: ItemResult[] = [];
    for (const profile of profiles) results.push(await importOne(profile, context.http, state));
    return results;
  }
  const outcomes: JobOutcome[] = [];
  let accepted = state.accepted;
  for (const chunk of bulkChunks(profiles)) {
    try {
      outcomes.push(...(await importInBulk(chunk, context)));
      accepted = true;
    } catch (error) {
      // Nothing accepted yet: the kit settles the whole batch (retry, or halves to find a refused profile).
      // Once a job is accepted, throwing would send it again: the failure stays with this chunk's items.
      if (!accepted || !isDeliveryError(error)) throw error;
      const result = resultAfterAcceptance(error);
      outcomes.push(...chunk.map(() => ({ ...result })));
    }
  }
  return resendWithoutRefusedFields(profiles, outcomes, context, { round: state.round, accepted });
}

/** Profiles of a job whose field Klaviyo refused go again without it; their ok results name the field. */
async function resendWithoutRefusedFields(
  profiles: KlaviyoProfileAttributes[],
  outcomes: JobOutcome[],
  context: OperationContext<KlaviyoSettings>,
  state: SendState,
): Promise<ItemResult[]> {
  const results: (ItemResult | undefined)[] = [];
  const repaired: { index: number; field: RefusedField; profile: KlaviyoProfileAttributes }[] = [];
  outcomes.forEach((outcome, index) => {
    if (outcome.status !== 'refused-field') {
      results[index] = outcome;
    } else if (state.round >= MAX_OMITTED_FIELDS) {
      results[index] = { status: 'rejected', reason: `Klaviyo import error: ${outcome.field.reason}` };
    } else {
      const profile = profiles[index] as KlaviyoProfileAttributes;
      repaired.push({ index, field: outcome.field, profile: withoutField(profile, outcome.field.path) });
    }
  });
  if (repaired.length > 0) {
    const again = await upsertAttributes(
      repaired.map((entry) => entry.profile),
      context,
      { round: state.round + 1, accepted: true },
    );
    repaired.forEach((entry, position) => {
      results[entry.index] = withOmitted(again[position], omitted(entry.field));
    });
  }
  return results.map((result) => result ?? { status: 'rejected', reason: 'unreachable: no result' });
}

/**
 * One profile through profile-import (201/200 with its id). A 400 pointing at a field that can be left out
 * sends it again without that field, up to MAX_OMITTED_FIELDS times.
 */
async function importOne(
  attributes: KlaviyoProfileAttributes,
  http: DestinationHttpClient,
  state: SendState,
): Promise<ItemResult> {
  let current = attributes;
  const left: OmittedField[] = [];
  for (let round = state.round; ; round++) {
    try {
      const response = await http.post<ProfileResponse>(KLAVIYO_ENDPOINTS.profileImport.path, {
        data: { type: 'profile', attributes: current },
      });
      const ok: ItemResult = { status: 'ok', externalId: response.body.data.id };
      return left.length === 0 ? ok : { ...ok, omittedFields: left };
    } catch (error) {
      const field = round < MAX_OMITTED_FIELDS ? refusedFieldOf(error, current) : undefined;
      if (field === undefined) {
        // Auth failures stop the batch (the pipeline pauses the destination) unless part of it was accepted.
        if (state.accepted && isDeliveryError(error)) return resultAfterAcceptance(error);
        return itemResultOfError(error);
      }
      left.push(omitted(field));
      current = withoutField(current, field.path);
    }
  }
}

/** The field a profile-import 400 points at (`/data/attributes/phone_number`), when it can be left out. */
function refusedFieldOf(error: unknown, attributes: KlaviyoProfileAttributes): RefusedField | undefined {
  if (!isDeliveryError(error) || error.status !== 400) return undefined;
  for (const entry of klaviyoErrors(error)) {
    const field = refusedField(entry.source?.pointer, '/data', attributes, errorReason(entry));
    if (field !== undefined) return field;
  }
  return undefined;
}

/** An item's result from an error met after part of its batch was accepted: never thrown. */
function resultAfterAcceptance(error: Parameters<typeof itemResultOfError>[0]): ItemResult {
  if (isDeliveryError(error) && error.kind === 'auth') {
    return { status: 'retry', afterMs: 60_000, reason: error.message };
  }
  return itemResultOfError(error);
}

/** `result` with `field` first among its omitted fields (ok results only: others stand as they are). */
function withOmitted(result: ItemResult | undefined, field: OmittedField): ItemResult {
  if (result === undefined) return { status: 'rejected', reason: 'unreachable: no result' };
  if (result.status !== 'ok') return result;
  return { ...result, omittedFields: [field, ...(result.omittedFields ?? [])] };
}
