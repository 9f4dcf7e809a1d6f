import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithSpecs, OpenApiContract } from '@tessera/destination-kit';
import { KLAVIYO_REVISION } from './api-revision';
import { KLAVIYO_ENDPOINTS } from './klaviyo-endpoints';

describeWithSpecs('klaviyo', 'Klaviyo contract', (dir) => {
  const contract = OpenApiContract.fromFolder(dir);
  const headers = { authorization: 'Klaviyo-API-Key pk_test', revision: KLAVIYO_REVISION };

  it('declares every endpoint it calls with the rate limit the spec gives it', () => {
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
    for (const endpoint of Object.values(KLAVIYO_ENDPOINTS)) {
      expect([
        `${endpoint.method} ${endpoint.path}`,
        declared.get(`${endpoint.method} ${endpoint.path}`),
      ]).toEqual([
        `${endpoint.method} ${endpoint.path}`,
        `${endpoint.limit.burst}/s ${endpoint.limit.steady}/m`,
      ]);
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
