import type { SandboxResponse } from '@tessera/destination-kit';
import { KLAVIYO_LIMITS } from '../klaviyo-endpoints';
import { KlaviyoApiError } from './klaviyo-errors';
import { decodeCursor, pageLinks, pageSize } from './klaviyo-pagination';
import { json, route, type Route, type RouteContext, tooMany } from './klaviyo-routing';
import { bodyChecker, bulkImportSchema } from './klaviyo-schemas';
import { iso, type JobRecord, type KlaviyoStore, type ProfileUpsertInput } from './klaviyo-store';

/* Profile bulk import jobs: accepted at once (202), applied asynchronously, with per-profile import errors. */

interface BulkImportDocument {
  data: {
    type: string;
    attributes: { profiles: { data: ProfileUpsertInput[] } };
    relationships?: { lists?: { data?: Array<{ type: 'list'; id: string }> } };
  };
}

const checkBulkImport = bodyChecker<BulkImportDocument>(bulkImportSchema);

function renderJob(job: JobRecord, base: string) {
  const self = `${base}/api/profile-bulk-import-jobs/${job.id}/`;
  return {
    type: 'profile-bulk-import-job',
    id: job.id,
    attributes: {
      status: job.status,
      created_at: job.created_at,
      total_count: job.total_count,
      completed_count: job.completed_count,
      failed_count: job.failed_count,
      completed_at: job.completed_at,
      expires_at: job.expires_at,
      started_at: job.started_at,
    },
    relationships: {
      lists: {
        data: job.list_ids.map((id) => ({ type: 'list', id })),
        links: { self: `${self}relationships/lists/`, related: `${self}lists/` },
      },
      'import-errors': { links: { related: `${self}import-errors/` } },
    },
    links: { self },
  };
}

/** The jobs Klaviyo runs on its side: created by a request, completed `completionMs` later. */
export class BulkImportJobs {
  constructor(
    private readonly store: KlaviyoStore,
    /** How long after its creation a job completes (ms); the emulator's configuration may change it. */
    public completionMs: number,
  ) {}

  routes(): Route[] {
    return [
      route('bulk-import', 'POST', '/api/profile-bulk-import-jobs', (c) => this.createImportJob(c), {
        maxBytes: KLAVIYO_LIMITS.requestBodyBytes,
      }),
      route('bulk-import-job', 'GET', '/api/profile-bulk-import-jobs/{id}', (c) => this.getImportJob(c)),
      route('bulk-import-errors', 'GET', '/api/profile-bulk-import-jobs/{id}/import-errors', (c) =>
        this.getImportErrors(c),
      ),
    ];
  }

  /** Jobs run on Klaviyo's side whether or not anyone polls: completes every job that is due. */
  settle(now: number): void {
    for (const job of this.store.jobs.values()) {
      if (job.pending !== null && now >= job.createdMs + this.completionMs) this.applyJob(job, now);
    }
  }

  /** Completes every pending job now, whatever `completionMs` says. */
  completeAll(now: number): void {
    for (const job of this.store.jobs.values()) if (job.pending !== null) this.applyJob(job, now);
  }

  private createImportJob(context: RouteContext): SandboxResponse {
    tooMany(
      context.body,
      ['data', 'attributes', 'profiles', 'data'],
      KLAVIYO_LIMITS.bulkImportProfiles,
      'profiles',
    );
    const document = checkBulkImport(context.body);
    document.data.attributes.profiles.data.forEach((profile, index) => {
      const bytes = Buffer.byteLength(JSON.stringify(profile));
      if (bytes > KLAVIYO_LIMITS.profileBytes) {
        throw new KlaviyoApiError(
          413,
          `The maximum allowed payload size per-profile is ${KLAVIYO_LIMITS.profileBytes} bytes; this profile is ${bytes} bytes.`,
          { pointer: `/data/attributes/profiles/data/${index}` },
        );
      }
    });
    const listIds = (document.data.relationships?.lists?.data ?? []).map((list) => list.id);
    listIds.forEach((id, index) => {
      if (!this.store.lists.has(id)) {
        throw new KlaviyoApiError(400, `A list with id '${id}' does not exist.`, {
          pointer: `/data/relationships/lists/data/${index}/id`,
        });
      }
    });
    const profiles = document.data.attributes.profiles.data;
    const job: JobRecord = {
      id: this.store.newJobId(),
      status: 'queued',
      created_at: iso(context.now),
      createdMs: context.now,
      started_at: null,
      completed_at: null,
      expires_at: iso(context.now + 7 * 24 * 60 * 60 * 1000),
      total_count: profiles.length,
      completed_count: 0,
      failed_count: 0,
      list_ids: listIds,
      profile_ids: [],
      pending: profiles,
    };
    this.store.jobs.set(job.id, job);
    this.store.importErrors.set(job.id, []);
    return json(202, {
      data: renderJob(job, context.base),
      links: { self: `${context.base}/api/profile-bulk-import-jobs/` },
    });
  }

  private getImportJob(context: RouteContext): SandboxResponse {
    const job = this.requireJob(context.params[0] ?? '');
    if (job.pending !== null && job.status === 'queued') {
      // Read before its completion time: Klaviyo reports it as running.
      job.status = 'processing';
      job.started_at = iso(context.now);
    }
    return json(200, {
      data: renderJob(job, context.base),
      links: { self: `${context.base}${context.request.path}` },
    });
  }

  private getImportErrors(context: RouteContext): SandboxResponse {
    const job = this.requireJob(context.params[0] ?? '');
    const size = pageSize(context.request.query);
    const offset = decodeCursor(context.request.query.get('page[cursor]'));
    const errors = this.store.importErrors.get(job.id) ?? [];
    const links = pageLinks(context, offset, size, errors.length);
    return json(200, {
      data: structuredClone(errors.slice(offset, offset + size)),
      links: { self: links.self, next: links.next, prev: links.prev },
    });
  }

  private requireJob(id: string): JobRecord {
    const job = this.store.jobs.get(id);
    if (job === undefined)
      throw new KlaviyoApiError(404, `A profile bulk import job with id '${id}' does not exist.`);
    return job;
  }

  /** Upserts each profile like profile-import; a profile Klaviyo would reject becomes an import error. */
  private applyJob(job: JobRecord, now: number): void {
    const errors = this.store.importErrors.get(job.id) ?? [];
    (job.pending ?? []).forEach((input, index) => {
      const pointer = `/data/attributes/profiles/data/${index}`;
      try {
        const { profile } = this.store.upsertProfile(input, now, pointer);
        job.profile_ids.push(profile.id);
        for (const listId of job.list_ids) this.store.lists.get(listId)?.profileIds.add(profile.id);
        job.completed_count++;
      } catch (error) {
        if (!(error instanceof KlaviyoApiError)) throw error;
        errors.push({
          type: 'import-error',
          id: this.store.newImportErrorId(),
          attributes: {
            code: error.code,
            title: error.title,
            detail: error.detail,
            source: { pointer: error.source.pointer ?? pointer },
            original_payload: structuredClone(input),
          },
        });
        job.failed_count++;
      }
    });
    this.store.importErrors.set(job.id, errors);
    job.pending = null;
    job.status = 'complete';
    job.started_at = job.started_at ?? iso(now);
    job.completed_at = iso(now);
  }
}
