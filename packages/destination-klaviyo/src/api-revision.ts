/**
 * The Klaviyo API revision every request pins (the `revision` header). Klaviyo keeps a revision stable for two
 * years; bump it here, re-run the contract tests against the matching specs, and nothing else changes.
 */
export const KLAVIYO_REVISION = '2026-07-15';

/** Klaviyo's production API. */
export const KLAVIYO_BASE_URL = 'https://a.klaviyo.com';
