import {
  type DestinationHttpClient,
  type ItemResult,
  isDeliveryError,
  type OperationContext,
} from '@tessera/destination-kit';
import { KLAVIYO_ENDPOINTS, KLAVIYO_LIMITS } from '../klaviyo-endpoints';
import type { KlaviyoSettings } from '../klaviyo-settings';
import type { KlaviyoProfileAttributes } from './profile-attributes';
import { nextCursor } from './profile-query.request';
import { type RefusedField, refusedField } from './refused-fields';

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

/** What became of one profile of a job: a result, or a field Klaviyo refused (the rest may go again without it). */
export type JobOutcome = ItemResult | { status: 'refused-field'; field: RefusedField };

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
export async function importInBulk(
  profiles: KlaviyoProfileAttributes[],
  { http, clock, settings }: OperationContext<KlaviyoSettings>,
): Promise<JobOutcome[]> {
  const created = await http.post<ImportJob>(KLAVIYO_ENDPOINTS.bulkImportJobs.path, {
    data: {
      type: 'profile-bulk-import-job',
      attributes: { profiles: { data: profiles.map((attributes) => ({ type: 'profile', attributes })) } },
    },
  });
  const jobId = created.body.data.id;
  const job = await awaitJob(http, clock, jobId, created.body, settings.bulkJobWaitMs);
  if (job?.data.attributes.status === 'cancelled') {
    // Klaviyo dropped the job without importing it: sending the profiles again is the only way to land them.
    return profiles.map(() => ({
      status: 'retry',
      afterMs: 1_000,
      reason: `Klaviyo cancelled bulk import job ${jobId}`,
    }));
  }
  const failed = job?.data.attributes.status === 'complete' && (job.data.attributes.failed_count ?? 0) > 0;
  const errors = failed ? await importErrors(http, jobId, profiles) : new Map<number, JobOutcome>();
  return profiles.map((_, index) => errors.get(index) ?? { status: 'ok' });
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
 * Reads a job's import errors and maps each to the profile it is about (by its pointer, else its
 * `external_id`): a refused field that can be left out, else a rejection with Klaviyo's detail. A page that
 * cannot be read ends the reading: the errors read so far are reported, the other profiles count as delivered.
 */
async function importErrors(
  http: DestinationHttpClient,
  jobId: string,
  profiles: KlaviyoProfileAttributes[],
): Promise<Map<number, JobOutcome>> {
  const byCustomer = new Map(profiles.map((profile, index) => [profile.external_id, index]));
  const outcomes = new Map<number, JobOutcome>();
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
      const profile = index === undefined ? undefined : profiles[index];
      if (index === undefined || profile === undefined || outcomes.has(index)) continue;
      const reason = detail ?? title ?? 'refused';
      const field = refusedField(source?.pointer, `/data/attributes/profiles/data/${index}`, profile, reason);
      outcomes.set(
        index,
        field === undefined
          ? { status: 'rejected', reason: `Klaviyo import error: ${reason}` }
          : { status: 'refused-field', field },
      );
    }
    cursor = nextCursor(page.links?.next);
  } while (cursor !== undefined);
  return outcomes;
}
