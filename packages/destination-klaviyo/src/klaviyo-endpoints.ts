import type { RateBudget } from '@tessera/destination-kit';

/*
 * The endpoints this destination calls at the pinned revision (KLAVIYO_REVISION, api-revision.ts), with the rate
 * limit each declares in Klaviyo's spec (`x-klaviyo-ratelimit`). A contract test compares this table with the
 * spec files, so that a new revision with new limits cannot slip by; the rate budgets below and the emulator's
 * limits are both derived from it, so they cannot drift apart.
 */

/** A Klaviyo limit as the spec writes it (`x-klaviyo-ratelimit`): burst per second and steady per minute. */
export interface KlaviyoRateLimit {
  burst: number;
  steady: number;
}

export interface KlaviyoEndpoint {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** As Klaviyo's reference writes it, path parameters in braces. */
  path: string;
  limit: KlaviyoRateLimit;
}

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
  profileMerge: { method: 'POST', path: '/api/profile-merge', limit: { burst: 10, steady: 150 } },
} as const satisfies Record<string, KlaviyoEndpoint>;

export type KlaviyoEndpointName = keyof typeof KLAVIYO_ENDPOINTS;

/** Klaviyo's two fixed windows per limit: burst per second, steady per minute. */
export function klaviyoWindows(limit: KlaviyoRateLimit): RateBudget['windows'] {
  return [
    { requests: limit.burst, perMs: 1_000 },
    { requests: limit.steady, perMs: 60_000 },
  ];
}

/** The kit's request pattern of an endpoint: `{param}` becomes `*` (one path segment). */
export function requestPattern(endpoint: KlaviyoEndpoint): string {
  return `${endpoint.method} ${endpoint.path.replace(/\{[^}]+\}/g, '*')}`;
}

/**
 * The rate budgets of the definition: Klaviyo counts each endpoint's burst and steady windows per account
 * ("rate limited on a per-account basis", every private key of the account sharing them), so every endpoint
 * this destination calls is its own budget, named like KLAVIYO_ENDPOINTS. Bulk job status polls and import
 * error reads count in theirs, like every other request the kit sends.
 */
export const KLAVIYO_RATE_BUDGETS: Record<KlaviyoEndpointName, RateBudget> = Object.fromEntries(
  Object.entries(KLAVIYO_ENDPOINTS).map(([name, endpoint]) => [
    name,
    { windows: klaviyoWindows(endpoint.limit), requests: [requestPattern(endpoint)] },
  ]),
) as Record<KlaviyoEndpointName, RateBudget>;

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
