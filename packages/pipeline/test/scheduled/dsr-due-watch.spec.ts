import { Registry } from 'prom-client';
import { AuditLog, DsrRequestRepository, type DsrType } from '@tessera/consent';
import { openScratchStore, STORE_DRIVERS, type Store } from '@tessera/store';
import { PipelineMetrics } from '../../src/pipeline-metrics';
import { DsrDueWatch } from '../../src/scheduled/dsr-due-watch.service';

const HOUR_MS = 3_600_000;
const T0 = new Date('2026-04-10T09:00:00.000Z');
const hoursFrom = (hours: number, from = T0) => new Date(from.getTime() + hours * HOUR_MS);

// The hourly DSR due check on both stores: gauge, warnings, and one audit entry per request and state.
describe.each(STORE_DRIVERS)('DsrDueWatch on %s', (driver) => {
  let store: Store;
  let requests: DsrRequestRepository;
  let audit: AuditLog;

  beforeAll(async () => {
    store = await openScratchStore(driver);
    requests = new DsrRequestRepository(store);
    audit = new AuditLog(store);
  }, 30_000);
  afterAll(() => store.close());
  beforeEach(() => store.execScript('TRUNCATE dsr_destination_results, dsr_requests, audit_log'));

  async function request(id: string, type: DsrType, dueAt: Date): Promise<void> {
    await requests.insert({
      id,
      type,
      subjectKeys: ['blind-key'],
      customerIds: ['C1'],
      requestedAt: hoursFrom(-72, dueAt),
      dueAt,
      requestedBy: 'admin:privacy',
      detail: {},
    });
  }

  function watch(now: () => Date) {
    const registry = new Registry();
    const warnings: { detail: Record<string, unknown>; message: string }[] = [];
    const metrics = new PipelineMetrics(registry);
    const watcher = new DsrDueWatch({
      store,
      requests,
      audit,
      report: (counts) => metrics.setDsrDue(counts),
      warn: (detail, message) => warnings.push({ detail, message }),
      now,
    });
    const gauge = async () => {
      const metric = (await registry.getMetricsAsJSON()).find((m) => m.name === 'tessera_dsr_requests_due');
      return Object.fromEntries(
        (metric?.values ?? []).map((value) => [String(value.labels['state']), value.value]),
      );
    };
    return { watcher, warnings, gauge };
  }

  it('counts, warns about and audits requests due within 24 hours or overdue, each audit once per state', async () => {
    await request('dsr-overdue', 'erasure', hoursFrom(-1));
    await request('dsr-soon', 'access', hoursFrom(5));
    await request('dsr-later', 'access', hoursFrom(48));
    await request('dsr-failed', 'erasure', hoursFrom(-30));
    await request('dsr-done', 'erasure', hoursFrom(-10));
    await requests.update('dsr-done', { status: 'completed', completedAt: hoursFrom(-11) });
    await requests.update('dsr-failed', { status: 'failed' });
    let now = T0;
    const { watcher, warnings, gauge } = watch(() => now);

    expect(await watcher.run()).toEqual({ dueSoon: 1, overdue: 2, audited: 3 });
    expect(await gauge()).toEqual({ due_soon: 1, overdue: 2 });
    expect(warnings).toEqual([
      {
        detail: {
          requestId: 'dsr-soon',
          type: 'access',
          dueAt: hoursFrom(5).toISOString(),
          state: 'due_soon',
        },
        message: 'data subject request due within 24 hours',
      },
      {
        detail: {
          requestId: 'dsr-failed',
          type: 'erasure',
          dueAt: hoursFrom(-30).toISOString(),
          state: 'overdue',
        },
        message: 'data subject request overdue',
      },
      {
        detail: {
          requestId: 'dsr-overdue',
          type: 'erasure',
          dueAt: hoursFrom(-1).toISOString(),
          state: 'overdue',
        },
        message: 'data subject request overdue',
      },
    ]);
    const entries = await audit.query({});
    expect(entries.map((entry) => [entry.action, entry.detail['requestId'], entry.actor]).sort()).toEqual([
      ['dsr.due_soon', 'dsr-soon', 'system:dsr-due'],
      ['dsr.overdue', 'dsr-failed', 'system:dsr-due'],
      ['dsr.overdue', 'dsr-overdue', 'system:dsr-due'],
    ]);
    expect((await requests.get('dsr-soon'))?.detail).toEqual({ dueAlerts: { due_soon: T0.toISOString() } });

    // An hour later nothing changed state: warned again, audited not again.
    now = hoursFrom(1);
    expect(await watcher.run()).toEqual({ dueSoon: 1, overdue: 2, audited: 0 });
    expect(await audit.query({})).toHaveLength(3);

    // Past its due date the due-soon one is audited once more, as overdue; a completed request drops out.
    await requests.update('dsr-failed', { status: 'completed', completedAt: hoursFrom(2) });
    now = hoursFrom(6);
    expect(await watcher.run()).toEqual({ dueSoon: 0, overdue: 2, audited: 1 });
    expect(await gauge()).toEqual({ due_soon: 0, overdue: 2 });
    expect((await audit.query({ action: 'dsr.overdue' })).map((entry) => entry.detail['requestId'])).toEqual([
      'dsr-soon',
      'dsr-overdue',
      'dsr-failed',
    ]);
  });

  it('two runs at once audit each request once', async () => {
    await request('dsr-race', 'erasure', hoursFrom(-2));
    const [first, second] = [watch(() => T0), watch(() => T0)];
    const outcomes = await Promise.all([first.watcher.run(), second.watcher.run()]);
    expect(outcomes.map((outcome) => outcome.audited).sort()).toEqual([0, 1]);
    expect(await audit.query({ action: 'dsr.overdue' })).toHaveLength(1);
  });

  it('sets the gauge to zero and writes nothing when no request is due', async () => {
    await request('dsr-far', 'access', hoursFrom(24 * 20));
    const { watcher, warnings, gauge } = watch(() => T0);
    expect(await watcher.run()).toEqual({ dueSoon: 0, overdue: 0, audited: 0 });
    expect(await gauge()).toEqual({ due_soon: 0, overdue: 0 });
    expect(warnings).toEqual([]);
    expect(await audit.query({})).toEqual([]);
  });
});
