import type { RateWindow } from '@tessera/destination-kit';

/** A Klaviyo limit as the spec writes it (`x-klaviyo-ratelimit`): burst per second and steady per minute. */
export interface KlaviyoRateLimit {
  burst: number;
  steady: number;
}

/**
 * The endpoints this destination calls, with the rate limit each declares in Klaviyo's spec. A contract test
 * compares this table with the spec files, so that a new revision with new limits cannot slip by.
 */
export const KLAVIYO_ENDPOINTS = {
  profileImport: { method: 'POST', path: '/api/profile-import', limit: { burst: 75, steady: 750 } },
  profiles: { method: 'GET', path: '/api/profiles', limit: { burst: 75, steady: 750 } },
  bulkImportJobs: {
    method: 'POST',
    path: '/api/profile-bulk-import-jobs',
    limit: { burst: 10, steady: 150 },
  },
  bulkImportJob: {
    method: 'GET',
    path: '/api/profile-bulk-import-jobs/{job_id}',
    limit: { burst: 10, steady: 150 },
  },
  bulkImportErrors: {
    method: 'GET',
    path: '/api/profile-bulk-import-jobs/{id}/import-errors',
    limit: { burst: 10, steady: 150 },
  },
  listAdd: {
    method: 'POST',
    path: '/api/lists/{id}/relationships/profiles',
    limit: { burst: 10, steady: 150 },
  },
  listRemove: {
    method: 'DELETE',
    path: '/api/lists/{id}/relationships/profiles',
    limit: { burst: 10, steady: 150 },
  },
  subscribe: {
    method: 'POST',
    path: '/api/profile-subscription-bulk-create-jobs',
    limit: { burst: 75, steady: 750 },
  },
  unsubscribe: {
    method: 'POST',
    path: '/api/profile-subscription-bulk-delete-jobs',
    limit: { burst: 75, steady: 750 },
  },
  suppress: {
    method: 'POST',
    path: '/api/profile-suppression-bulk-create-jobs',
    limit: { burst: 75, steady: 750 },
  },
  unsuppress: {
    method: 'POST',
    path: '/api/profile-suppression-bulk-delete-jobs',
    limit: { burst: 75, steady: 750 },
  },
  deletion: { method: 'POST', path: '/api/data-privacy-deletion-jobs', limit: { burst: 3, steady: 60 } },
} as const satisfies Record<string, { method: string; path: string; limit: KlaviyoRateLimit }>;

/** Klaviyo's size limits per request (from its API reference). */
export const KLAVIYO_LIMITS = {
  bulkImportProfiles: 10_000,
  /** The largest body Klaviyo takes (a bulk import job: "The maximum allowed payload size is 5MB"). */
  requestBodyBytes: 5 * 1024 * 1024,
  /** One profile: profile-import, PATCH and each profile of a bulk import job ("100KB"). */
  profileBytes: 100 * 1024,
  /** What the destination puts in one job: under the 5 MB limit with room for the envelope. */
  bulkImportBytes: 4_900_000,
  listRelationshipProfiles: 1_000,
  subscribeProfiles: 1_000,
  unsubscribeProfiles: 100,
  suppressionProfiles: 100,
  profilesPageSize: 100,
} as const;

/** The rate windows of the endpoints an operation calls: the tightest of each. */
export function rateWindows(...limits: KlaviyoRateLimit[]): RateWindow[] {
  const burst = Math.min(...limits.map((limit) => limit.burst));
  const steady = Math.min(...limits.map((limit) => limit.steady));
  return [
    { requests: burst, perMs: 1_000 },
    { requests: steady, perMs: 60_000 },
  ];
}
