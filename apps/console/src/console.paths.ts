import type { TesseraRuntime } from '@tessera/runtime';

/** The URLs the console serves, as printed at start-up. */
export function consolePaths(_runtime: TesseraRuntime): Array<[string, string]> {
  return [
    ['console (web UI)', '/console/'],
    ['control-plane API', '/v1/session'],
    ['API docs (OpenAPI)', '/docs'],
    ['queues (Bull Board)', '/queues'],
  ];
}
