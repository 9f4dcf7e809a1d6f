/**
 * The Klaviyo API revision every request pins (the `revision` header). Klaviyo keeps a revision stable for two
 * years; bump it here, re-run the contract tests against the matching specs, and nothing else changes.
 */
export const KLAVIYO_REVISION = '2026-07-15';

/** Klaviyo's production API. */
export const KLAVIYO_BASE_URL = 'https://a.klaviyo.com';

/** Klaviyo's API host: every endpoint this destination calls lives on it (the only host a request may go to). */
export const KLAVIYO_HOSTS = ['a.klaviyo.com'] as const;

/**
 * Every generally available revision Klaviyo has published, oldest first: each `info.version` of
 * `openapi/stable.json` in Klaviyo's spec repository (github.com/klaviyo/openapi), and 2026-10-15, the
 * current revision in Klaviyo's developer docs. A revision past its two years of support still answers
 * (Klaviyo serves it with the oldest supported one, "fall forward"), so the emulator accepts all of them.
 */
export const KLAVIYO_PUBLISHED_REVISIONS: readonly string[] = [
  '2022-10-17',
  '2023-01-24',
  '2023-02-22',
  '2023-06-15',
  '2023-07-15',
  '2023-08-15',
  '2023-09-15',
  '2023-10-15',
  '2023-12-15',
  '2024-02-15',
  '2024-05-15',
  '2024-06-15',
  '2024-07-15',
  '2024-10-15',
  '2025-01-15',
  '2025-04-15',
  '2025-07-15',
  '2025-10-15',
  '2026-01-15',
  '2026-04-15',
  '2026-07-15',
  '2026-10-15',
];

/**
 * Beta revisions (`<date>.pre`) that do not share a GA revision's date, from `openapi/beta.json` in the same
 * repository; every other beta is published as `<GA revision>.pre`.
 */
export const KLAVIYO_EARLY_BETA_REVISIONS: readonly string[] = [
  '2022-11-14.pre',
  '2022-12-15.pre',
  '2023-01-25.pre',
];

/** Whether Klaviyo publishes `revision` (a GA revision, its `.pre` beta, or an early beta). */
export function isPublishedRevision(revision: string): boolean {
  const ga = revision.endsWith('.pre') ? revision.slice(0, -'.pre'.length) : revision;
  return KLAVIYO_PUBLISHED_REVISIONS.includes(ga) || KLAVIYO_EARLY_BETA_REVISIONS.includes(revision);
}
