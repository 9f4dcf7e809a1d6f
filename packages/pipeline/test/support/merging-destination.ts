import { defineDestination } from '@tessera/destination-kit';

/**
 * A destination that merges profiles by posting the merges due to `/merges` (the kit's cooling-off decides
 * which are due): what the deliver stage's merge specs run against.
 */
export const mergingDestination = defineDestination<{ baseUrl: string; mergeCoolingOffMinutes?: number }>({
  type: 'merger',
  name: 'Merger',
  hosts: ['merger.invalid'],
  settingsSchema: {
    type: 'object',
    properties: { baseUrl: { type: 'string', default: 'https://merger.invalid' } },
  },
  requestHeaders: (): Record<string, string> => ({}),
  testConnection: async () => undefined,
  operations: {
    mergeProfiles: {
      batchSize: 10,
      perform: async (items, { http }) => {
        await http.post('/merges', items);
        return items.map(() => ({ status: 'ok' }));
      },
    },
  },
});
