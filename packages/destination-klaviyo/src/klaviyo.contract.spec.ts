import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithSpecs, OpenApiContract, RateBudgets } from '@tessera/destination-kit';
import { KLAVIYO_REVISION } from './api-revision';
import { EMULATOR_ONLY_ENDPOINTS } from './emulator/klaviyo-rate-limits';
import { KLAVIYO_ENDPOINTS, KLAVIYO_RATE_BUDGETS } from './klaviyo-endpoints';
import { klaviyoDestination } from './klaviyo.destination';

describeWithSpecs('klaviyo', 'Klaviyo contract', (dir) => {
  const contract = OpenApiContract.fromFolder(dir);
  const headers = { authorization: 'Klaviyo-API-Key pk_test', revision: KLAVIYO_REVISION };

  it('declares every endpoint it calls (and the emulator serves) with the rate limit the spec gives it', () => {
    const declared = new Map<string, string>();
    for (const name of readdirSync(dir).filter((file) => file.endsWith('.json'))) {
      const document = JSON.parse(readFileSync(join(dir, name), 'utf8')) as {
        paths?: Record<string, Record<string, { 'x-klaviyo-ratelimit'?: { burst: string; steady: string } }>>;
      };
      for (const [path, item] of Object.entries(document.paths ?? {})) {
        for (const [method, operation] of Object.entries(item)) {
          const limit = operation['x-klaviyo-ratelimit'];
          if (limit !== undefined)
            declared.set(`${method.toUpperCase()} ${path}`, `${limit.burst} ${limit.steady}`);
        }
      }
    }
    const emulatorOnlyInSpec = Object.values(EMULATOR_ONLY_ENDPOINTS).filter((endpoint) =>
      declared.has(`${endpoint.method} ${endpoint.path}`),
    );
    expect(emulatorOnlyInSpec.map((endpoint) => `${endpoint.method} ${endpoint.path}`)).toEqual([
      'GET /api/profiles/{id}',
      'PATCH /api/profiles/{id}',
    ]);
    for (const endpoint of [...Object.values(KLAVIYO_ENDPOINTS), ...emulatorOnlyInSpec]) {
      expect([
        `${endpoint.method} ${endpoint.path}`,
        declared.get(`${endpoint.method} ${endpoint.path}`),
      ]).toEqual([
        `${endpoint.method} ${endpoint.path}`,
        `${endpoint.limit.burst}/s ${endpoint.limit.steady}/m`,
      ]);
    }
  });

  it('paces every request by its endpoint’s budget: the spec’s burst per second and steady per minute', () => {
    expect(klaviyoDestination.rateBudgets).toBe(KLAVIYO_RATE_BUDGETS);
    const budgets = new RateBudgets(klaviyoDestination.rateBudgets);
    for (const [name, endpoint] of Object.entries(KLAVIYO_ENDPOINTS)) {
      const path = endpoint.path.replace(/\{[^}]+\}/g, '01J00000000000000000000001');
      expect([`${endpoint.method} ${path}`, budgets.matching(endpoint.method, path)]).toEqual([
        `${endpoint.method} ${path}`,
        [
          {
            name,
            windows: [
              { requests: endpoint.limit.burst, perMs: 1_000 },
              { requests: endpoint.limit.steady, perMs: 60_000 },
            ],
          },
        ],
      ]);
    }
    // The status poll and the import errors of a job are two endpoints, two budgets.
    expect(
      budgets.matching('GET', '/api/profile-bulk-import-jobs/J1/import-errors/').map((b) => b.name),
    ).toEqual(['bulkImportErrors']);
    for (const operation of Object.values(klaviyoDestination.operations)) {
      expect(operation).not.toHaveProperty('rateLimits');
      expect(operation).not.toHaveProperty('requestCost');
    }
  });

  it('catches a malformed body: a profile-import without attributes, a wrong type and a number for an email', () => {
    const valid = { data: { type: 'profile', attributes: { email: 'ada@example.com', external_id: 'C1' } } };
    expect(contract.validate({ method: 'POST', path: '/api/profile-import', headers, body: valid })).toEqual(
      [],
    );
    const wrong = contract.validate({
      method: 'POST',
      path: '/api/profile-import',
      headers,
      body: { data: { type: 'profiles', attributes: { email: 42 } } },
    });
    expect(wrong.map((violation) => violation.pointer)).toEqual(
      expect.arrayContaining(['/data/type', '/data/attributes/email']),
    );
    const missing = contract.validate({
      method: 'POST',
      path: '/api/profile-import',
      headers,
      body: { data: { type: 'profile' } },
    });
    expect(missing).toEqual([expect.objectContaining({ where: 'body', pointer: '/data' })]);
  });

  it('catches a missing revision header and a missing API key', () => {
    const violations = contract.validate({ method: 'GET', path: '/api/profiles', headers: {} });
    expect(violations.map((violation) => violation.pointer)).toEqual(['revision', 'Authorization']);
  });
});
