/**
 * The Sfmc API version this destination is written against, sent with every request by
 * `requestHeaders`. Pinned in this one place: moving to a new version is a reviewed change, made together
 * with the request builders, the emulator and the tests.
 *
 * TODO(sfmc): set the version Sfmc documents (a header, a date revision or a path prefix).
 */
export const SFMC_API_VERSION = 'v1';
