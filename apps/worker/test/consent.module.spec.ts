import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ConsentGate, ConsentLedger, DEFAULT_RETENTION_POLICY, SuppressionList } from '@tessera/consent';
import { createHttpApp } from '@tessera/nest-platform';
import { createTestRuntime, type TestRuntime } from '@tessera/testing';
import { ANALYTICS_KEYS, ConsentModule, RETENTION_POLICY } from '../src/consent.module';

// The module in a real app (real runtime, store and Redis); bad settings are covered end to end in
// test/e2e/startup.e2e.spec.ts (the process stops naming them).
describe('ConsentModule', () => {
  let t: TestRuntime;
  let app: NestFastifyApplication;

  beforeAll(async () => {
    t = await createTestRuntime();
    app = await createHttpApp(t.runtime, [ConsentModule]);
    await app.init();
  });

  afterAll(async () => {
    await app.close();
    await t.cleanup();
  });

  it('wires the ledger and the suppression list to the started gate, with the default privacy settings', async () => {
    expect(app.get(ConsentLedger)).toBeInstanceOf(ConsentLedger);
    expect(app.get(SuppressionList)).toBeInstanceOf(SuppressionList);
    const gate = app.get(ConsentGate);
    const verdict = await gate.decide('0'.repeat(32), {
      brand: 'sd',
      channel: 'email',
      purpose: 'marketing',
    });
    expect(verdict.subscribed).toBe(false);
    expect(app.get(RETENTION_POLICY)).toEqual(DEFAULT_RETENTION_POLICY);
    expect(app.get(ANALYTICS_KEYS)).toBeUndefined();
  });
});
