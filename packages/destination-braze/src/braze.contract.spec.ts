import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeWithSpecs, OpenApiContract } from '@tessera/destination-kit';
import { BRAZE_ENDPOINTS } from './braze-endpoints';

describeWithSpecs('braze', 'Braze contract', (dir) => {
  const contract = OpenApiContract.fromFolder(dir);
  const spec = JSON.parse(readFileSync(join(dir, 'spec.json'), 'utf8')) as {
    paths: Record<string, Record<string, { description?: string }>>;
  };
  const headers = { authorization: 'Bearer key', 'content-type': 'application/json' };
  const describedAs = (method: string, path: string): string =>
    spec.paths[path]?.[method.toLowerCase()]?.description ?? '';

  it('knows every endpoint the destination calls, and flags one it does not', () => {
    for (const endpoint of Object.values(BRAZE_ENDPOINTS)) {
      const violations = contract.validate({ method: endpoint.method, path: endpoint.path, headers });
      expect([endpoint.path, violations.filter((violation) => violation.where === 'path')]).toEqual([
        endpoint.path,
        [],
      ]);
    }
    const unknown = contract.validate({ method: 'POST', path: '/users/upsert', headers, body: {} });
    expect(unknown.map((violation) => violation.where)).toEqual(['path']);
  });

  it('declares the limits the spec documents for each endpoint', () => {
    const track = describedAs('POST', BRAZE_ENDPOINTS.usersTrack.path);
    expect(track).toContain('3,000 requests per three seconds');
    expect(track).toContain('up to 75 event objects, 75 attribute objects');
    expect(BRAZE_ENDPOINTS.usersTrack.rateLimits).toEqual([{ requests: 3000, perMs: 3000 }]);
    expect(describedAs('POST', BRAZE_ENDPOINTS.usersDelete.path)).toContain('Up to 50\u00a0`external_ids`');
    expect(describedAs('POST', BRAZE_ENDPOINTS.usersDelete.path)).toContain('20,000 requests per minute');
    expect(describedAs('POST', BRAZE_ENDPOINTS.subscriptionStatusSet.path)).toContain(
      '5,000 requests per minute',
    );
    expect(describedAs('POST', BRAZE_ENDPOINTS.emailStatus.path)).toContain('250,000 requests per hour');
    for (const shared of [BRAZE_ENDPOINTS.usersIdentify, BRAZE_ENDPOINTS.usersMerge]) {
      expect(describedAs('POST', shared.path)).toContain('shared rate limit of 20,000 requests per minute');
      expect(shared.rateLimits).toEqual(BRAZE_ENDPOINTS.usersDelete.rateLimits);
    }
    expect(describedAs('POST', BRAZE_ENDPOINTS.usersMerge.path)).toContain('Up to 50 merges');
    const exportIds = describedAs('POST', BRAZE_ENDPOINTS.usersExportIds.path);
    expect(exportIds).toContain('Up to 50 `external_ids`');
    expect(exportIds).toContain('2,500 requests per minute');
    expect(describedAs('POST', BRAZE_ENDPOINTS.emailBlocklist.path)).toContain('up to 50 email addresses');
  });

  it('catches malformed bodies: a non-email to /email/status, attributes that are not objects', () => {
    const valid = { email: 'ada@example.com', subscription_state: 'opted_in' };
    expect(contract.validate({ method: 'POST', path: '/email/status', headers, body: valid })).toEqual([]);
    const badEmail = contract.validate({
      method: 'POST',
      path: '/email/status',
      headers,
      body: { ...valid, email: 'nope' },
    });
    expect(badEmail.map((violation) => violation.pointer)).toEqual(['/email']);
    const badTrack = contract.validate({
      method: 'POST',
      path: '/users/track',
      headers,
      body: { attributes: ['C1'] },
    });
    expect(badTrack.map((violation) => violation.pointer)).toEqual(['/attributes/0']);
  });
});
