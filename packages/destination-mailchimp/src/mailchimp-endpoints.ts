/*
 * Every Mailchimp Marketing API endpoint this destination calls, and the limits Mailchimp publishes. The API
 * version lives in the path (`/3.0/…`), so MAILCHIMP_API_ROOT below is the one pin: moving to another version
 * is a reviewed change made with the request builders, the request contract, the emulator and the tests.
 */

/** The Marketing API version every path is built on. */
export const MAILCHIMP_API_VERSION = '3.0';
export const MAILCHIMP_API_ROOT = `/${MAILCHIMP_API_VERSION}`;

/** Mailchimp's API host; `{dc}` is the data center, the suffix of the API key (`…-us21`). */
export const MAILCHIMP_DEFAULT_BASE_URL = 'https://{dc}.api.mailchimp.com';

/** Every data center's API host (`us21.api.mailchimp.com`…): the only hosts a request may go to. */
export const MAILCHIMP_HOSTS = ['*.api.mailchimp.com'] as const;

/** Mailchimp's published limits (https://mailchimp.com/developer/marketing/docs/fundamentals/#api-limits). */
export const MAILCHIMP_LIMITS = {
  /** Simultaneous connections per API key; the 11th is answered 429. */
  maxConnections: 10,
  /** Members per batch subscribe/update call (POST /lists/{list_id}). */
  batchMembers: 500,
  /** Emails in each of `members_to_add` / `members_to_remove` of a static segment call. */
  segmentMembers: 500,
} as const;

const segment = (value: string): string => encodeURIComponent(value);

/** Paths relative to the base URL, each starting with the pinned version. */
export const MAILCHIMP_PATHS = {
  /** GET: `{ health_status }` when the key works. */
  ping: `${MAILCHIMP_API_ROOT}/ping`,
  /** POST: batch subscribe or update up to 500 members. */
  batchMembers: (listId: string): string => `${MAILCHIMP_API_ROOT}/lists/${segment(listId)}`,
  /** PUT: add or update one member; GET: read it back; DELETE: archive it (the member's data is kept). */
  member: (listId: string, hash: string): string =>
    `${MAILCHIMP_API_ROOT}/lists/${segment(listId)}/members/${hash}`,
  /** POST: delete one member and all of their data for good. */
  memberDeletePermanent: (listId: string, hash: string): string =>
    `${MAILCHIMP_API_ROOT}/lists/${segment(listId)}/members/${hash}/actions/delete-permanent`,
  /** GET `?name=`: the audience's tags (static segments) whose name matches. */
  tagSearch: (listId: string): string => `${MAILCHIMP_API_ROOT}/lists/${segment(listId)}/tag-search`,
  /** POST: create a segment; `{ name, static_segment: [] }` creates a tag. */
  segments: (listId: string): string => `${MAILCHIMP_API_ROOT}/lists/${segment(listId)}/segments`,
  /** POST: add and remove up to 500 emails each to or from a static segment (a tag is one). */
  staticSegment: (listId: string, segmentId: string): string =>
    `${MAILCHIMP_API_ROOT}/lists/${segment(listId)}/segments/${segment(segmentId)}`,
} as const;

/** The merge field carrying the Tessera customer id (a text field the brand adds to the audience). */
export const TESSERA_ID_MERGE_FIELD = 'TESSERA_ID';
