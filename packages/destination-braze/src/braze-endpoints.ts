import type { RateBudget } from '@tessera/destination-kit';

/**
 * The REST endpoints of Braze's instances (https://www.braze.com/docs/api/basics/#endpoints): `rest.iad-01.braze.com`
 * to `rest.iad-08…`, `rest.us-10…`, `rest.au-01…`, `rest.id-01.braze.com`, `rest.fra-01.braze.eu`, `rest.fra-02…`.
 */
export const BRAZE_HOSTS = ['rest.*.braze.com', 'rest.*.braze.eu'] as const;

/*
 * Every Braze REST endpoint this destination calls, with the most objects Braze takes in one request, and the
 * rate budgets Braze counts those requests against (https://www.braze.com/docs/api/api_limits/). Checked
 * against the community spec by braze.contract.spec.ts. Braze's REST API has no version header: versions live
 * in the path (`/v2/subscription/status/set`), so the paths below are the pin.
 *
 * The destination declares BRAZE_RATE_BUDGETS (every request it sends waits for room in its budget, counted
 * per workspace by every worker) and the emulator enforces the very same table, so the two cannot drift.
 */

/**
 * Braze's limits per workspace, by class of request. The api_limits page lists a few endpoints with their own
 * limits; "requests not listed in this table share a total default rate limit of 250,000 requests per hour".
 */
export type BrazeBudgetName =
  'usersTrack' | 'usersExportIds' | 'userIdentity' | 'subscriptionStatusSet' | 'sharedDefault';

export const BRAZE_RATE_BUDGETS: Record<BrazeBudgetName, RateBudget> = {
  /** 3,000 requests per three seconds (since 28 Oct 2024, every customer). */
  usersTrack: { windows: [{ requests: 3000, perMs: 3000 }], requests: ['POST /users/track'] },
  /**
   * 250 requests per minute for workspaces onboarded on or after 22 Aug 2024 (2,500 before, which the
   * community spec still says): the stricter figure, so that a new workspace is never throttled.
   */
  usersExportIds: { windows: [{ requests: 250, perMs: 60_000 }], requests: ['POST /users/export/ids'] },
  /** 20,000 requests per minute, shared by delete, alias/new, alias/update, identify and merge. */
  userIdentity: {
    windows: [{ requests: 20_000, perMs: 60_000 }],
    requests: [
      'POST /users/delete',
      'POST /users/alias/new',
      'POST /users/alias/update',
      'POST /users/identify',
      'POST /users/merge',
    ],
  },
  /** 5,000 requests per minute, shared by /subscription/status/set and /v2/subscription/status/set. */
  subscriptionStatusSet: {
    windows: [{ requests: 5000, perMs: 60_000 }],
    requests: ['POST /subscription/status/set', 'POST /v2/subscription/status/set'],
  },
  /**
   * The default 250,000 requests per hour, one pool for every request the table does not list: all the email
   * list endpoints (status, blocklist, bounce and spam removal, the unsubscribes poll) fall in it.
   */
  sharedDefault: { windows: [{ requests: 250_000, perMs: 3_600_000 }], requests: ['* /email/**'] },
};

export interface BrazeEndpoint {
  method: 'GET' | 'POST';
  path: string;
  /** Most objects (attributes, ids, addresses…) Braze takes in one request; undefined when it takes one. */
  maxPerRequest?: number;
  /** The rate budget Braze counts its requests in. */
  budget: BrazeBudgetName;
}

export const BRAZE_ENDPOINTS = {
  /** Up to 75 objects in all (attributes, events, purchases), one user each. */
  usersTrack: { method: 'POST', path: '/users/track', maxPerRequest: 75, budget: 'usersTrack' },
  /** Up to 50 external ids. */
  usersDelete: { method: 'POST', path: '/users/delete', maxPerRequest: 50, budget: 'userIdentity' },
  /** Up to 50 aliases given an external id (alias-only user → identified user). */
  usersIdentify: { method: 'POST', path: '/users/identify', maxPerRequest: 50, budget: 'userIdentity' },
  /** Up to 50 merges of one user into another; asynchronous and irreversible. */
  usersMerge: { method: 'POST', path: '/users/merge', maxPerRequest: 50, budget: 'userIdentity' },
  /** Up to 50 external ids exported with the fields asked for. */
  usersExportIds: {
    method: 'POST',
    path: '/users/export/ids',
    maxPerRequest: 50,
    budget: 'usersExportIds',
  },
  /** Up to 50 emails unsubscribed and marked hard-bounced. */
  emailBlocklist: { method: 'POST', path: '/email/blocklist', maxPerRequest: 50, budget: 'sharedDefault' },
  /** Up to 50 emails' hard bounces removed (`email`: one address, or an array of up to 50). */
  emailBounceRemove: {
    method: 'POST',
    path: '/email/bounce/remove',
    maxPerRequest: 50,
    budget: 'sharedDefault',
  },
  /** The global subscription state of up to 50 emails (`email`: one address, or an array of up to 50). */
  emailStatus: { method: 'POST', path: '/email/status', maxPerRequest: 50, budget: 'sharedDefault' },
  /** Up to 50 users in all, in one or more subscription groups. */
  subscriptionStatusSet: {
    method: 'POST',
    path: '/v2/subscription/status/set',
    maxPerRequest: 50,
    budget: 'subscriptionStatusSet',
  },
  /** Emails unsubscribed between two dates, paged by `limit` (≤ 500) and `offset`. */
  emailUnsubscribes: {
    method: 'GET',
    path: '/email/unsubscribes',
    maxPerRequest: 500,
    budget: 'sharedDefault',
  },
} as const satisfies Record<string, BrazeEndpoint>;

export type BrazeEndpointName = keyof typeof BRAZE_ENDPOINTS;

/**
 * Braze's data payload limit: "All API endpoints have a data payload limit of 4 MB"; larger posts fail with
 * 413 (https://www.braze.com/docs/api/endpoints/user_data/). Read as 4,000,000 bytes, the stricter reading.
 */
export const BRAZE_MAX_BODY_BYTES = 4_000_000;

/** Max objects per /users/track request (attributes, events and purchases together). */
export const USERS_TRACK_MAX_OBJECTS = BRAZE_ENDPOINTS.usersTrack.maxPerRequest;

/** The custom array attribute that carries Tessera segment membership (Braze segments are filters, not lists). */
export const SEGMENTS_ATTRIBUTE = 'tessera_segments';

/** Label of the user alias a guest profile is keyed by; its name is the guest's Tessera customer id. */
export const GUEST_ALIAS_LABEL = 'tessera_customer_id';
