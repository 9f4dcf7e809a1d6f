import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeWithSpecs, OpenApiContract } from '@tessera/destination-kit';
import { BRAZE_ENDPOINTS, BRAZE_RATE_BUDGETS } from './braze-endpoints';
import { BRAZE_SPEC_CORRECTIONS, brazeContract } from './braze-spec-corrections';

describeWithSpecs('braze', 'Braze contract', (dir) => {
  const contract = brazeContract(dir);
  const uncorrected = OpenApiContract.fromFolder(dir);
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
    const budgetOf = (endpoint: { budget: keyof typeof BRAZE_RATE_BUDGETS }) =>
      BRAZE_RATE_BUDGETS[endpoint.budget].windows;
    const track = describedAs('POST', BRAZE_ENDPOINTS.usersTrack.path);
    expect(track).toContain('3,000 requests per three seconds');
    expect(track).toContain('up to 75 event objects, 75 attribute objects');
    expect(budgetOf(BRAZE_ENDPOINTS.usersTrack)).toEqual([{ requests: 3000, perMs: 3000 }]);
    expect(describedAs('POST', BRAZE_ENDPOINTS.usersDelete.path)).toContain('Up to 50\u00a0`external_ids`');
    expect(describedAs('POST', BRAZE_ENDPOINTS.usersDelete.path)).toContain('20,000 requests per minute');
    expect(budgetOf(BRAZE_ENDPOINTS.usersDelete)).toEqual([{ requests: 20_000, perMs: 60_000 }]);
    expect(describedAs('POST', BRAZE_ENDPOINTS.subscriptionStatusSet.path)).toContain(
      '5,000 requests per minute shared across the`/subscription/status/set` and `/v2/subscription/status/set`',
    );
    expect(budgetOf(BRAZE_ENDPOINTS.subscriptionStatusSet)).toEqual([{ requests: 5000, perMs: 60_000 }]);
    for (const email of [
      BRAZE_ENDPOINTS.emailStatus,
      BRAZE_ENDPOINTS.emailBlocklist,
      BRAZE_ENDPOINTS.emailBounceRemove,
      BRAZE_ENDPOINTS.emailUnsubscribes,
    ]) {
      expect([email.path, describedAs(email.method, email.path)]).toEqual([
        email.path,
        expect.stringContaining('default Braze rate limit of 250,000 requests per hour'),
      ]);
      expect(email.budget).toBe('sharedDefault');
    }
    expect(budgetOf(BRAZE_ENDPOINTS.emailStatus)).toEqual([{ requests: 250_000, perMs: 3_600_000 }]);
    for (const shared of [BRAZE_ENDPOINTS.usersIdentify, BRAZE_ENDPOINTS.usersMerge]) {
      expect(describedAs('POST', shared.path)).toContain('shared rate limit of 20,000 requests per minute');
      expect(shared.budget).toBe(BRAZE_ENDPOINTS.usersDelete.budget);
    }
    expect(describedAs('POST', BRAZE_ENDPOINTS.usersMerge.path)).toContain('Up to 50 merges');
    const exportIds = describedAs('POST', BRAZE_ENDPOINTS.usersExportIds.path);
    expect(exportIds).toContain('Up to 50 `external_ids`');
    // The spec predates Braze's 250 a minute for workspaces onboarded since 22 Aug 2024: the stricter one holds.
    expect(exportIds).toContain('2,500 requests per minute');
    expect(budgetOf(BRAZE_ENDPOINTS.usersExportIds)).toEqual([{ requests: 250, perMs: 60_000 }]);
    expect(describedAs('POST', BRAZE_ENDPOINTS.emailBlocklist.path)).toContain('up to 50 email addresses');
    for (const email of [BRAZE_ENDPOINTS.emailStatus, BRAZE_ENDPOINTS.emailBounceRemove]) {
      expect([email.path, describedAs('POST', email.path)]).toEqual([
        email.path,
        expect.stringContaining('or an array of up to 50 email addresses'),
      ]);
      expect(email.maxPerRequest).toBe(50);
    }
    expect(describedAs('POST', BRAZE_ENDPOINTS.subscriptionStatusSet.path)).toContain(
      'batch update the subscription state of up to 50 users',
    );
    expect(BRAZE_ENDPOINTS.subscriptionStatusSet.maxPerRequest).toBe(50);
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
    expect(new Set(badEmail.map((violation) => violation.pointer))).toEqual(new Set(['/email']));
    const badTrack = contract.validate({
      method: 'POST',
      path: '/users/track',
      headers,
      body: { attributes: ['C1'] },
    });
    expect(badTrack.map((violation) => violation.pointer)).toEqual(['/attributes/0']);
  });

  it.each(['/email/status', '/email/bounce/remove'])(
    'takes `email` at %s as one address or an array of up to 50, as the parameter table documents',
    (path) => {
      const state = path === '/email/status' ? { subscription_state: 'opted_in' } : {};
      const emails = (count: number) => Array.from({ length: count }, (_, n) => `m${n}@example.com`);
      const check = (email: unknown) =>
        contract.validate({ method: 'POST', path, headers, body: { email, ...state } });

      expect(describedAs('POST', path)).toContain('an array of up to 50 email addresses');
      expect(check('ada@example.com')).toEqual([]);
      expect(check(emails(50))).toEqual([]);
      // The generated schema alone would refuse the documented array form.
      expect(
        uncorrected
          .validate({ method: 'POST', path, headers, body: { email: emails(2), ...state } })
          .map((violation) => violation.pointer),
      ).toEqual(['/email']);
      expect(check(emails(51)).map((violation) => violation.pointer)).toContain('/email');
      expect(check([]).map((violation) => violation.pointer)).toContain('/email');
      expect(check(['ada@example.com', 'nope']).map((violation) => violation.pointer)).toContain('/email/1');
    },
  );

  it('refuses to correct a spec whose description no longer says what a correction rests on', () => {
    const copy = mkdtempSync(join(tmpdir(), 'braze-spec-'));
    try {
      cpSync(join(dir, 'spec.json'), join(copy, 'spec.json'));
      const text = readFileSync(join(copy, 'spec.json'), 'utf8');
      const [first] = BRAZE_SPEC_CORRECTIONS;
      writeFileSync(
        join(copy, 'spec.json'),
        text.split(first?.documentedAs ?? '').join('String email address.'),
      );

      expect(() => brazeContract(copy)).toThrow(
        `The Braze spec no longer documents POST /email/status as "${first?.documentedAs}": review the correction`,
      );
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
