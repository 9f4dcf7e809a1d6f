import type { TesseraRuntime } from '@tessera/runtime';

/** The URLs the intake serves, as printed at start-up. */
export function ingestPaths(runtime: TesseraRuntime): Array<[string, string]> {
  const demo = runtime.workspace.sources.find((source) => source.id === 'demo-loyalty');
  return [
    ['ingest', '/v1/sources/{sourceId}/events'],
    ...(demo === undefined
      ? []
      : ([['demo source', `/v1/sources/${demo.id}/events`]] as Array<[string, string]>)),
    ['ESP webhooks', '/v1/inbound/{destinationId}'],
    ['event catalog', '/v1/catalog'],
    ['health', '/healthz'],
    ['readiness', '/readyz'],
    ['metrics', '/metrics'],
  ];
}
