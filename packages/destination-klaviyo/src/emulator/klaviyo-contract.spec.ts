import { describeWithSpecs, OpenApiContract } from '@tessera/destination-kit';
import { API_KEY, setup } from './klaviyo-test-support';

/*
 * The emulator's own 2xx request bodies, checked against Klaviyo's published OpenAPI documents: whatever the
 * emulator accepts here, the real API's schema accepts too (and the reverse for these samples: the emulator
 * answers 2xx to each of them).
 */

interface Sample {
  title: string;
  method: string;
  path: (ids: { profileId: string; listId: string; jobId: string }) => string;
  body?: unknown;
  status: number;
}

const fullProfile = {
  type: 'profile',
  attributes: {
    email: 'sample@example.com',
    phone_number: '+33612345678',
    external_id: 'C-SAMPLE',
    first_name: 'Ada',
    last_name: 'Lovelace',
    organization: 'Analytical Engines',
    locale: 'fr-FR',
    title: 'Countess',
    image: 'https://example.com/ada.png',
    location: {
      address1: '1 Rue de Rivoli',
      city: 'Paris',
      country: 'FR',
      zip: '75001',
      latitude: 48.86,
      longitude: '2.33',
      timezone: 'Europe/Paris',
      ip: null,
    },
    properties: { tier: 'gold', points: 10 },
  },
  meta: { patch_properties: { append: { tags: 'vip' }, unset: 'legacy' } },
};

const samples: Sample[] = [
  {
    title: 'profile-import with every attribute',
    method: 'POST',
    path: () => '/api/profile-import',
    body: { data: fullProfile },
    status: 200,
  },
  {
    title: 'PATCH a profile',
    method: 'PATCH',
    path: ({ profileId }) => `/api/profiles/${profileId}`,
    body: ({ profileId }: { profileId: string }) => ({
      data: { type: 'profile', id: profileId, attributes: { first_name: 'Ada', properties: { tier: null } } },
    }),
    status: 200,
  },
  {
    title: 'bulk import with a list',
    method: 'POST',
    path: () => '/api/profile-bulk-import-jobs',
    body: ({ listId }: { listId: string }) => ({
      data: {
        type: 'profile-bulk-import-job',
        attributes: {
          profiles: { data: [fullProfile, { type: 'profile', attributes: { email: 'b@example.com' } }] },
        },
        relationships: { lists: { data: [{ type: 'list', id: listId }] } },
      },
    }),
    status: 202,
  },
  {
    title: 'add to a list',
    method: 'POST',
    path: ({ listId }) => `/api/lists/${listId}/relationships/profiles`,
    body: ({ profileId }: { profileId: string }) => ({ data: [{ type: 'profile', id: profileId }] }),
    status: 204,
  },
  {
    title: 'remove from a list',
    method: 'DELETE',
    path: ({ listId }) => `/api/lists/${listId}/relationships/profiles`,
    body: ({ profileId }: { profileId: string }) => ({ data: [{ type: 'profile', id: profileId }] }),
    status: 204,
  },
  {
    title: 'subscribe email and sms, historical, to a list',
    method: 'POST',
    path: () => '/api/profile-subscription-bulk-create-jobs',
    body: ({ listId }: { listId: string }) => ({
      data: {
        type: 'profile-subscription-bulk-create-job',
        attributes: {
          custom_source: 'Tessera',
          historical_import: true,
          profiles: {
            data: [
              {
                type: 'profile',
                attributes: {
                  email: 'sub@example.com',
                  phone_number: '+33612345679',
                  subscriptions: {
                    email: { marketing: { consent: 'SUBSCRIBED', consented_at: '2026-07-01T00:00:00Z' } },
                    sms: {
                      marketing: { consent: 'SUBSCRIBED', consented_at: '2026-07-01T00:00:00Z' },
                      transactional: { consent: 'SUBSCRIBED', consented_at: '2026-07-01T00:00:00Z' },
                    },
                  },
                },
              },
            ],
          },
        },
        relationships: { list: { data: { type: 'list', id: listId } } },
      },
    }),
    status: 202,
  },
  {
    title: 'unsubscribe email and sms',
    method: 'POST',
    path: () => '/api/profile-subscription-bulk-delete-jobs',
    body: {
      data: {
        type: 'profile-subscription-bulk-delete-job',
        attributes: {
          profiles: {
            data: [
              {
                type: 'profile',
                attributes: {
                  email: 'sub@example.com',
                  phone_number: '+33612345679',
                  subscriptions: {
                    email: { marketing: { consent: 'UNSUBSCRIBED' } },
                    sms: { marketing: { consent: 'UNSUBSCRIBED' } },
                  },
                },
              },
            ],
          },
        },
      },
    },
    status: 202,
  },
  {
    title: 'suppress by email',
    method: 'POST',
    path: () => '/api/profile-suppression-bulk-create-jobs',
    body: {
      data: {
        type: 'profile-suppression-bulk-create-job',
        attributes: { profiles: { data: [{ type: 'profile', attributes: { email: 'sub@example.com' } }] } },
      },
    },
    status: 202,
  },
  {
    title: 'unsuppress a list',
    method: 'POST',
    path: () => '/api/profile-suppression-bulk-delete-jobs',
    body: ({ listId }: { listId: string }) => ({
      data: {
        type: 'profile-suppression-bulk-delete-job',
        attributes: {},
        relationships: { list: { data: { type: 'list', id: listId } } },
      },
    }),
    status: 202,
  },
  {
    title: 'request a deletion by id',
    method: 'POST',
    path: () => '/api/data-privacy-deletion-jobs',
    body: ({ profileId }: { profileId: string }) => ({
      data: {
        type: 'data-privacy-deletion-job',
        attributes: { profile: { data: { type: 'profile', id: profileId, attributes: {} } } },
      },
    }),
    status: 202,
  },
  {
    title: 'read profiles',
    method: 'GET',
    path: () => "/api/profiles?filter=equals(email,'sample@example.com')",
    status: 200,
  },
  {
    title: 'read a job',
    method: 'GET',
    path: ({ jobId }) => `/api/profile-bulk-import-jobs/${jobId}`,
    status: 200,
  },
  {
    title: 'read import errors',
    method: 'GET',
    path: ({ jobId }) => `/api/profile-bulk-import-jobs/${jobId}/import-errors?page[size]=5`,
    status: 200,
  },
];

describeWithSpecs('klaviyo', 'KlaviyoEmulator against Klaviyo’s OpenAPI documents', (dir) => {
  const contract = OpenApiContract.fromFolder(dir);
  const headers = {
    authorization: `Klaviyo-API-Key ${API_KEY}`,
    revision: '2026-07-15',
    'content-type': 'application/vnd.api+json',
  };

  it.each(samples.map((sample) => [sample.title, sample] as const))(
    '%s: the spec accepts it and so does the emulator',
    async (_title, sample) => {
      const { send, emulator } = setup({ lists: [{ id: 'Y6nRLr', name: 'VIP' }] });
      const seeded = await send('POST', '/api/profile-import', {
        data: { type: 'profile', attributes: { email: 'seed@example.com' } },
      });
      const profileId = (seeded.body as { data: { id: string } }).data.id;
      const job = await send('POST', '/api/profile-bulk-import-jobs', {
        data: {
          type: 'profile-bulk-import-job',
          attributes: { profiles: { data: [{ type: 'profile', attributes: { email: 'bad' } }] } },
        },
      });
      const ids = { profileId, listId: 'Y6nRLr', jobId: (job.body as { data: { id: string } }).data.id };
      if (sample.title.startsWith('unsuppress')) {
        await send('POST', '/api/lists/Y6nRLr/relationships/profiles', {
          data: [{ type: 'profile', id: profileId }],
        });
      }
      const body =
        typeof sample.body === 'function' ? (sample.body as (i: typeof ids) => unknown)(ids) : sample.body;
      const fullPath = sample.path(ids);
      expect(
        contract.validate({
          method: sample.method,
          path: fullPath,
          headers,
          ...(body === undefined ? {} : { body }),
        }),
      ).toEqual([]);

      const url = new URL(fullPath, 'http://sandbox.invalid');
      const response = await send(sample.method, url.pathname, body, {
        query: Object.fromEntries(url.searchParams.entries()),
      });
      expect(response.status).toBe(sample.title.startsWith('profile-import') ? 201 : sample.status);
      expect(emulator.state().requests).toBeGreaterThan(2);
    },
  );

  it('the spec also rejects what the emulator rejects as an unknown attribute or a wrong consent', () => {
    const violations = contract.validate({
      method: 'POST',
      path: '/api/profile-subscription-bulk-create-jobs',
      headers,
      body: {
        data: {
          type: 'profile-subscription-bulk-create-job',
          attributes: {
            profiles: {
              data: [
                {
                  type: 'profile',
                  attributes: {
                    email: 'a@example.com',
                    subscriptions: { email: { marketing: { consent: 'UNSUBSCRIBED' } } },
                  },
                },
              ],
            },
          },
        },
      },
    });
    expect(violations).not.toEqual([]);
  });
});
