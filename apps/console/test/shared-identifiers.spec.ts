import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { AuditLog } from '@tessera/consent';
import { IdentityGraph } from '@tessera/identity-graph';
import { PiiVault } from '@tessera/store';
import { createTestRuntime, testWorkspace, type TestRuntime } from '@tessera/testing';
import { apiCaller, startConsoleApp } from './console-api-client';

// Issue 19 item 10 over the control-plane API (Fastify's inject, a real runtime): a family email two members
// of one brand share shows on the second member's profile as linking nothing, and in the listing; masked per
// role, paged, bad paging refused with the exact error.

const ADMIN_KEY = 'tsk_admin-key-for-the-shared-identifiers-spec-0123456789';
const REASON = 'shared by two members anchored by member.sd: links nothing';

describe('shared contact points in the control-plane API', () => {
  let t: TestRuntime;
  let app: NestFastifyApplication;
  const keys: Record<'marketer' | 'auditor', string> = { marketer: '', auditor: '' };
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    t = await createTestRuntime(testWorkspace(), { TESSERA_ADMIN_KEY: ADMIN_KEY });
    app = await startConsoleApp(t.runtime);
    for (const role of ['marketer', 'auditor'] as const) {
      const created = await call('POST', '/v1/api-keys', ADMIN_KEY, { name: `${role} key`, role });
      keys[role] = String(created.body['key']);
    }
    const graph = new IdentityGraph({
      store: t.runtime.store,
      vault: new PiiVault(t.runtime.masterKeys),
      brands: [{ id: 'sd', defaultCountry: 'GB' }],
    });
    // Three families: each email first with member …1, then with member …2 of the same brand.
    for (const [index, family] of ['ashby', 'brook', 'carter'].entries()) {
      for (const n of [1, 2]) {
        const result = await graph.resolveIdentities([
          {
            brand: 'sd',
            eventTime: new Date(Date.UTC(2026, 10, 1 + index, 9 + n)),
            eventSource: 'spec',
            eventId: `${family}-${n}`,
            identifiers: { member_id: `SD${index}${n}`, email: `${family}@example.com` },
          },
        ]);
        ids[`${family}${n}`] = result.records[0]?.customerId ?? '';
      }
    }
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await t?.cleanup();
  });

  const call = apiCaller(() => app);

  it('shows the email on the second member’s profile as linking nothing, masked for a marketer', async () => {
    const marketer = await call('GET', '/v1/profiles/member.sd%3ASD02', keys.marketer);
    expect(marketer.status).toBe(200);
    expect(marketer.body['customerId']).toBe(ids['ashby2']);
    expect((marketer.body['identifiers'] as { type: string }[]).map((entry) => entry.type)).toEqual([
      'member',
    ]);
    expect(marketer.body['sharedContactPoints']).toEqual([
      {
        type: 'email',
        value: 'a***@example.com',
        heldBy: ids['ashby1'],
        anchor: 'member.sd',
        reason: REASON,
        firstSeenAt: '2026-11-01T11:00:00.000Z',
        lastSeenAt: '2026-11-01T11:00:00.000Z',
        count: 1,
      },
    ]);
    expect(JSON.stringify(marketer.body)).not.toContain('ashby@example.com');
    const admin = await call('GET', '/v1/profiles/member.sd%3ASD02', ADMIN_KEY);
    expect((admin.body['sharedContactPoints'] as { value: string }[])[0]?.value).toBe('ashby@example.com');
    // The first member holds the email as an identifier, and shares nothing.
    const holder = await call('GET', '/v1/profiles/member.sd%3ASD01', keys.marketer);
    expect(holder.body['sharedContactPoints']).toEqual([]);
    expect(
      (holder.body['identifiers'] as { type: string; value: string }[]).map((entry) => entry.value),
    ).toEqual(['SD01', 'a***@example.com']);
  });

  it('lists the cases a page at a time, masked without pii.read, in clear for an admin (audited)', async () => {
    const first = await call('GET', '/v1/identity/shared-identifiers?limit=2', keys.auditor);
    expect(first.status).toBe(200);
    const page = first.body['sharedIdentifiers'] as Array<Record<string, unknown>>;
    expect(
      page.map((entry) => [entry['value'], entry['customerId'], entry['heldBy'], entry['reason']]),
    ).toEqual([
      ['a***@example.com', ids['ashby2'], ids['ashby1'], REASON],
      ['b***@example.com', ids['brook2'], ids['brook1'], REASON],
    ]);
    expect(page[0]).toMatchObject({
      type: 'email',
      anchor: 'member.sd',
      count: 1,
      subjectKey: expect.any(String),
    });
    expect(first.body['nextAfter']).toBe(page[1]?.['id']);
    const auditsBefore = await new AuditLog(t.runtime.store).query({ action: 'shared-identifiers.pii_read' });
    expect(auditsBefore).toEqual([]);
    const second = await call(
      'GET',
      `/v1/identity/shared-identifiers?limit=2&after=${String(first.body['nextAfter'])}`,
      ADMIN_KEY,
    );
    expect(second.body).toEqual({
      sharedIdentifiers: [
        expect.objectContaining({ value: 'carter@example.com', customerId: ids['carter2'] }),
      ],
      nextAfter: null,
    });
    const [entry] = await new AuditLog(t.runtime.store).query({ action: 'shared-identifiers.pii_read' });
    expect(entry?.detail).toMatchObject({ entity: 'shared-identifiers', listed: 1 });
    expect(JSON.stringify(entry)).not.toContain('carter@example.com');
  });

  it('refuses bad paging with 400 and the exact message, and a caller without a key with 401', async () => {
    expect(await call('GET', '/v1/identity/shared-identifiers?limit=0', keys.marketer)).toEqual({
      status: 400,
      body: {
        error: 'bad_request',
        message: '?/limit must be >= 1',
        errors: [{ path: '?/limit', message: 'must be >= 1' }],
      },
    });
    expect(
      (await call('GET', '/v1/identity/shared-identifiers?limit=5000', keys.marketer)).body['message'],
    ).toBe('?/limit must be <= 1000');
    expect(
      (await call('GET', '/v1/identity/shared-identifiers?after=-1', keys.marketer)).body['message'],
    ).toBe('?/after must be >= 0');
    expect(
      (await call('GET', '/v1/identity/shared-identifiers?after=x', keys.marketer)).body['message'],
    ).toBe('?/after must be integer');
    expect(await call('GET', '/v1/identity/shared-identifiers?page=2', keys.marketer)).toEqual({
      status: 400,
      body: {
        error: 'bad_request',
        message: '?/page is not a known property',
        errors: [{ path: '?/page', message: 'is not a known property' }],
      },
    });
    expect((await call('GET', '/v1/identity/shared-identifiers')).status).toBe(401);
    // Refused reads audit nothing (nothing was shown).
    expect(await new AuditLog(t.runtime.store).query({ action: 'shared-identifiers.pii_read' })).toHaveLength(
      1,
    );
  });
});
