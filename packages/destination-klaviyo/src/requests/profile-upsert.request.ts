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
 * with its id), a large one through bulk import jobs (≤ 10,000 profiles and ≤ 5 MB each). A job's profiles are
 * delivered once Klaviyo accepted it (202); its status is then polled, and when that works the job's import
 * errors are read back so that every item gets its own result.
 */
export async function upsertProfiles(
  items: ProfileUpsert[],
  context: OperationContext<KlaviyoSettings>,
): Promise<BatchResult> {
  const profiles = items.map((item) => klaviyoProfileAttributes(item, context.settings));
  if (items.length < context.settings.bulkImportMinProfiles) return importOneByOne(profiles, context.http);
  const results: BatchResult = [];
  let accepted = false;
  for (const chunk of bulkChunks(profiles)) {
    try {
      results.push(...(await importInBulk(chunk, context)));
      accepted = true;
    } catch (error) {
      // Nothing accepted yet: the kit settles the whole batch (retry, or halves to find a refused profile).
      // Once a job is accepted, throwing would send it again: the failure stays with this chunk's items.
      if (!accepted || !isDeliveryError(error)) throw error;
      const result: ItemResult =
        error.kind === 'auth'
          ? { status: 'retry', afterMs: 60_000, reason: error.message }
          : itemResultOfError(error);
      results.push(...chunk.map(() => ({ ...result })));
    }
  }
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
      results.push(itemResultOfError(error));
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

/** Consecutive failed status polls after which the wait for a job's outcome ends (its items stay delivered). */
export const MAX_FAILED_POLLS = 3;

/**
 * Creates one bulk import job: a failure to create it is thrown (nothing was accepted). Once Klaviyo accepted
 * it, nothing here throws: the job's status is polled (each poll counted in the rate budget by the kit) until it
 * completes, `bulkJobWaitMs` passes or polls keep failing; the items are ok then, with the per-profile import
 * errors when the job completed and they could be read.
 */
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
  const delivered = (): ItemResult[] => profiles.map(() => ({ status: 'ok' }));
  const job = await awaitJob(http, clock, jobId, created.body, settings.bulkJobWaitMs);
  if (job?.data.attributes.status === 'cancelled') {
    // Klaviyo dropped the job without importing it: sending the profiles again is the only way to land them.
    return profiles.map(() => ({
      status: 'retry',
      afterMs: 1_000,
      reason: `Klaviyo cancelled bulk import job ${jobId}`,
    }));
  }
  if (job?.data.attributes.status !== 'complete') return delivered();
  if ((job.data.attributes.failed_count ?? 0) === 0) return delivered();
  const rejected = await importErrors(http, jobId, profiles);
  return profiles.map((_, index): ItemResult => {
    const reason = rejected.get(index);
    return reason === undefined ? { status: 'ok' } : { status: 'rejected', reason };
  });
}

/**
 * Polls a job until it is complete or cancelled, with a growing pause (250 ms to 5 s, or the Retry-After of a
 * throttled poll). Returns the last status read, or undefined when polling gave up: `waitMs` passed, a poll was
 * refused (auth, 4xx) or MAX_FAILED_POLLS polls in a row failed. A poll never sends the job again.
 */
async function awaitJob(
  http: DestinationHttpClient,
  clock: OperationContext['clock'],
  jobId: string,
  accepted: ImportJob,
  waitMs: number,
): Promise<ImportJob | undefined> {
  const jobPath = `${KLAVIYO_ENDPOINTS.bulkImportJobs.path}/${encodeURIComponent(jobId)}`;
  const deadline = clock.now() + waitMs;
  const settled = (job: ImportJob) => ['complete', 'cancelled'].includes(job.data.attributes.status);
  let job = accepted;
  let failures = 0;
  for (let pause = 250; !settled(job); pause = Math.min(pause * 2, 5_000)) {
    if (clock.now() >= deadline) return undefined;
    let wait = pause;
    try {
      job = (await http.get<ImportJob>(jobPath)).body;
      failures = 0;
    } catch (error) {
      const retryable = isDeliveryError(error) && error.kind === 'retryable';
      if (!retryable || ++failures >= MAX_FAILED_POLLS) return undefined;
      wait = Math.max(pause, error.retryAfterMs ?? 0);
    }
    if (!settled(job)) await clock.sleep(Math.min(wait, Math.max(0, deadline - clock.now())));
  }
  return job;
}

/**
 * Reads a job's import errors and maps each to the index of the profile it is about. A page that cannot be
 * read ends the reading: the errors read so far are reported, the other profiles count as delivered.
 */
async function importErrors(
  http: DestinationHttpClient,
  jobId: string,
  profiles: KlaviyoProfileAttributes[],
): Promise<Map<number, string>> {
  const byCustomer = new Map(profiles.map((profile, index) => [profile.external_id, index]));
  const rejected = new Map<number, string>();
  let cursor: string | undefined;
  do {
    let page: ImportErrorsPage;
    try {
      page = (
        await http.get<ImportErrorsPage>(
          `${KLAVIYO_ENDPOINTS.bulkImportJobs.path}/${encodeURIComponent(jobId)}/import-errors`,
          { query: { 'page[size]': 100, 'page[cursor]': cursor } },
        )
      ).body;
    } catch (error) {
      if (!isDeliveryError(error)) throw error;
      break;
    }
    for (const error of page.data) {
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
    cursor = nextCursor(page.links?.next);
  } while (cursor !== undefined);
  return rejected;
}
