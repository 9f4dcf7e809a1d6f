import {
  type BatchResult,
  type DestinationHttpClient,
  type ItemResult,
  isDeliveryError,
  type OperationContext,
  type ProfileUpsert,
} from '@tessera/destination-kit';
import { KLAVIYO_ENDPOINTS, KLAVIYO_LIMITS } from '../klaviyo-endpoints';
import type { KlaviyoSettings } from '../klaviyo-settings';
import { type KlaviyoProfileAttributes, klaviyoProfileAttributes } from './profile-attributes';
import { nextCursor } from './profile-query.request';

interface ProfileResponse {
  data: { id: string };
}

interface ImportJob {
  data: {
    id: string;
    attributes: { status: string; total_count?: number; completed_count?: number; failed_count?: number };
  };
}

interface ImportErrorsPage {
  data: {
    id: string;
    attributes: {
      code?: string;
      title?: string;
      detail?: string;
      source?: { pointer?: string | null };
      original_payload?: Record<string, unknown> | null;
    };
  }[];
  links?: { next?: string | null };
}

/** Requests one upsert call makes, in profile-import units (a bulk job's 10/s limit is 7.5× tighter than 75/s). */
export function upsertRequestCost(items: ProfileUpsert[], settings: KlaviyoSettings): number {
  return items.length < settings.bulkImportMinProfiles ? items.length : 8;
}

/**
 * Upserts profiles: a small batch one `POST /api/profile-import` per profile (the ESP answers each at once,
 * with its id), a large one through bulk import jobs (≤ 10,000 profiles and ≤ 5 MB each) whose status and
 * import errors are read back, so that every item gets its own result.
 */
export async function upsertProfiles(
  items: ProfileUpsert[],
  context: OperationContext<KlaviyoSettings>,
): Promise<BatchResult> {
  const profiles = items.map((item) => klaviyoProfileAttributes(item, context.settings));
  if (items.length < context.settings.bulkImportMinProfiles) return importOneByOne(profiles, context.http);
  const results: BatchResult = [];
  for (const chunk of bulkChunks(profiles)) results.push(...(await importInBulk(chunk, context)));
  return results;
}

async function importOneByOne(
  profiles: KlaviyoProfileAttributes[],
  http: DestinationHttpClient,
): Promise<BatchResult> {
  const results: BatchResult = [];
  for (const attributes of profiles) {
    try {
      const response = await http.post<ProfileResponse>(KLAVIYO_ENDPOINTS.profileImport.path, {
        data: { type: 'profile', attributes },
      });
      results.push({ status: 'ok', externalId: response.body.data.id });
    } catch (error) {
      // Auth failures and non-delivery errors stop the batch: the pipeline pauses the destination.
      if (!isDeliveryError(error) || error.kind === 'auth') throw error;
      if (error.kind === 'retryable') {
        results.push({ status: 'retry', afterMs: error.retryAfterMs ?? 1_000, reason: error.message });
      } else {
        results.push({ status: 'rejected', reason: error.message });
      }
    }
  }
  return results;
}

/** Cuts profiles into job payloads under Klaviyo's count and byte limits. */
export function bulkChunks(profiles: KlaviyoProfileAttributes[]): KlaviyoProfileAttributes[][] {
  const chunks: KlaviyoProfileAttributes[][] = [];
  let current: KlaviyoProfileAttributes[] = [];
  let bytes = 0;
  for (const profile of profiles) {
    const size = Buffer.byteLength(JSON.stringify(profile)) + 40; // + the resource envelope
    if (
      current.length > 0 &&
      (current.length >= KLAVIYO_LIMITS.bulkImportProfiles || bytes + size > KLAVIYO_LIMITS.bulkImportBytes)
    ) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(profile);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

async function importInBulk(
  profiles: KlaviyoProfileAttributes[],
  { http, clock, settings }: OperationContext<KlaviyoSettings>,
): Promise<ItemResult[]> {
  const created = await http.post<ImportJob>(KLAVIYO_ENDPOINTS.bulkImportJobs.path, {
    data: {
      type: 'profile-bulk-import-job',
      attributes: { profiles: { data: profiles.map((attributes) => ({ type: 'profile', attributes })) } },
    },
  });
  const jobId = created.body.data.id;
  const jobPath = `${KLAVIYO_ENDPOINTS.bulkImportJobs.path}/${encodeURIComponent(jobId)}`;
  const deadline = clock.now() + settings.bulkJobWaitMs;
  let job = created.body;
  for (let wait = 250; job.data.attributes.status !== 'complete'; wait = Math.min(wait * 2, 5_000)) {
    if (job.data.attributes.status === 'cancelled') {
      return profiles.map(() => ({
        status: 'retry',
        afterMs: 1_000,
        reason: `Klaviyo cancelled bulk import job ${jobId}`,
      }));
    }
    if (clock.now() >= deadline) {
      // The job may still finish; upserts are idempotent, so handing the items back for a retry is safe.
      return profiles.map(() => ({
        status: 'retry',
        afterMs: 30_000,
        reason: `Klaviyo bulk import job ${jobId} was still ${job.data.attributes.status} after ${settings.bulkJobWaitMs} ms`,
      }));
    }
    job = (await http.get<ImportJob>(jobPath)).body;
    if (job.data.attributes.status !== 'complete') await clock.sleep(wait);
  }
  const rejected =
    (job.data.attributes.failed_count ?? 0) > 0 ? await importErrors(http, jobId, profiles) : new Map();
  return profiles.map((_, index): ItemResult => {
    const reason = rejected.get(index);
    return reason === undefined ? { status: 'ok' } : { status: 'rejected', reason };
  });
}

/** Reads a job's import errors and maps each to the index of the profile it is about. */
async function importErrors(
  http: DestinationHttpClient,
  jobId: string,
  profiles: KlaviyoProfileAttributes[],
): Promise<Map<number, string>> {
  const byCustomer = new Map(profiles.map((profile, index) => [profile.external_id, index]));
  const rejected = new Map<number, string>();
  let cursor: string | undefined;
  do {
    const page = await http.get<ImportErrorsPage>(
      `${KLAVIYO_ENDPOINTS.bulkImportJobs.path}/${encodeURIComponent(jobId)}/import-errors`,
      { query: { 'page[size]': 100, 'page[cursor]': cursor } },
    );
    for (const error of page.body.data) {
      const { detail, title, source, original_payload: original } = error.attributes;
      const pointerIndex = /^\/data\/attributes\/profiles\/data\/(\d+)/.exec(source?.pointer ?? '')?.[1];
      const externalId = original?.['external_id'];
      const index =
        pointerIndex !== undefined
          ? Number(pointerIndex)
          : typeof externalId === 'string'
            ? byCustomer.get(externalId)
            : undefined;
      if (index !== undefined) rejected.set(index, `Klaviyo import error: ${detail ?? title ?? 'rejected'}`);
    }
    cursor = nextCursor(page.body.links?.next);
  } while (cursor !== undefined);
  return rejected;
}
