import { defineDestination } from '@tessera/destination-kit';

/**
 * The pipeline tests' destination: it posts profiles to /profiles in batches of `upsertBatchSize`, and rejects
 * the customers the capture server's answer lists in `refused`. Tests add operations by spreading it.
 */
export function echoDestination(upsertBatchSize: number) {
  return defineDestination<{ baseUrl: string; apiKey: string }>({
    type: 'echo',
    name: 'Echo',
    hosts: ['echo.invalid'],
    settingsSchema: {
      type: 'object',
      properties: {
        baseUrl: { type: 'string', default: 'https://echo.invalid' },
        apiKey: { type: 'string' },
      },
      required: ['apiKey'],
    },
    requestHeaders: (settings): Record<string, string> => ({ 'x-api-key': settings.apiKey }),
    testConnection: async () => undefined,
    operations: {
      upsertProfiles: {
        batchSize: upsertBatchSize,
        perform: async (items, { http }) => {
          const response = await http.post<{ refused?: string[] }>('/profiles', items);
          const refused = new Set(response.body?.refused ?? []);
          return items.map((item) =>
            refused.has(item.customerId)
              ? { status: 'rejected', reason: `refused ${item.customerId}` }
              : { status: 'ok' },
          );
        },
      },
    },
  });
}
