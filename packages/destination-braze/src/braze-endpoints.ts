import type { RateWindow } from '@tessera/destination-kit';

/*
 * Every Braze REST endpoint this destination calls, with the limits Braze publishes for it (the community
 * OpenAPI spec's descriptions, checked by braze.contract.spec.ts). Braze's REST API has no version header:
 * versions live in the path (`/v2/subscription/status/set`), so the paths below are the pin.
 */

export interface BrazeEndpoint {
  method: 'GET' | 'POST';
  path: string;
  /** Most objects (attributes, ids…) Braze takes in one request; undefined when it takes one. */
  maxPerRequest?: number;
  rateLimits: RateWindow[];
}

/** Braze's shared limit of /users/delete, /users/identify, /users/merge and /users/alias/*: 20,000 per minute. */
const IDENTITY_LIMIT: RateWindow[] = [{ requests: 20_000, perMs: 60_000 }];

export const BRAZE_ENDPOINTS = {
  /** Attributes (and custom-attribute array operations) of up to 75 users; 3,000 requests per 3 s. */
  usersTrack: {
    method: 'POST',
    path: '/users/track',
    maxPerRequest: 75,
    rateLimits: [{ requests: 3000, perMs: 3000 }],
  },
  /** Up to 50 external ids; 20,000 requests per minute (shared with identify, merge, alias/update). */
  usersDelete: {
    method: 'POST',
    path: '/users/delete',
    maxPerRequest: 50,
    rateLimits: IDENTITY_LIMIT,
  },
  /** Up to 50 aliases given an external id (alias-only user → identified user); shares delete's limit. */
  usersIdentify: {
    method: 'POST',
    path: '/users/identify',
    maxPerRequest: 50,
    rateLimits: IDENTITY_LIMIT,
  },
  /** Up to 50 merges of one user into another; asynchronous and irreversible; shares delete's limit. */
  usersMerge: {
    method: 'POST',
    path: '/users/merge',
    maxPerRequest: 50,
    rateLimits: IDENTITY_LIMIT,
  },
  /** Up to 50 external ids exported with the fields asked for; 2,500 requests per minute. */
  usersExportIds: {
    method: 'POST',
    path: '/users/export/ids',
    maxPerRequest: 50,
    rateLimits: [{ requests: 2500, perMs: 60_000 }],
  },
  /** Up to 50 emails unsubscribed and marked hard-bounced; Braze's default 250,000 requests per hour. */
  emailBlocklist: {
    method: 'POST',
    path: '/email/blocklist',
    maxPerRequest: 50,
    rateLimits: [{ requests: 250_000, perMs: 3_600_000 }],
  },
  /** Up to 50 emails' hard bounces removed (`email`: one address, or an array of up to 50); 250,000 per hour. */
  emailBounceRemove: {
    method: 'POST',
    path: '/email/bounce/remove',
    maxPerRequest: 50,
    rateLimits: [{ requests: 250_000, perMs: 3_600_000 }],
  },
  /** The global subscription state of up to 50 emails (`email`: one address, or an array of up to 50). */
  emailStatus: {
    method: 'POST',
    path: '/email/status',
    maxPerRequest: 50,
    rateLimits: [{ requests: 250_000, perMs: 3_600_000 }],
  },
  /** Up to 50 users of one subscription group; 5,000 requests per minute. */
  subscriptionStatusSet: {
    method: 'POST',
    path: '/v2/subscription/status/set',
    maxPerRequest: 50,
    rateLimits: [{ requests: 5000, perMs: 60_000 }],
  },
  /** Emails unsubscribed between two dates, paged by `limit` (≤ 500) and `offset`; 250,000 per hour. */
  emailUnsubscribes: {
    method: 'GET',
    path: '/email/unsubscribes',
    maxPerRequest: 500,
    rateLimits: [{ requests: 250_000, perMs: 3_600_000 }],
  },
} as const satisfies Record<string, BrazeEndpoint>;

/** Max objects per /users/track request (each of attributes, events, purchases). */
export const USERS_TRACK_MAX_ATTRIBUTES = BRAZE_ENDPOINTS.usersTrack.maxPerRequest;

/** The custom array attribute that carries Tessera segment membership (Braze segments are filters, not lists). */
export const SEGMENTS_ATTRIBUTE = 'tessera_segments';

/** Label of the user alias a guest profile is keyed by; its name is the guest's Tessera customer id. */
export const GUEST_ALIAS_LABEL = 'tessera_customer_id';
