import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  DEFAULT_RETENTION_POLICY,
  ExportFolderRetention,
  RetentionJob,
  retentionPolicy,
  type DataClass,
  type RetentionTarget,
} from '../../src/privacy';

const NOW = new Date('2026-11-23T10:00:00Z');
const DAY = 24 * 60 * 60 * 1000;
const daysAgo = (days: number): Date => new Date(NOW.getTime() - days * DAY);

/** Rows with timestamps, deleted as a table would be; records every call it gets. */
class TableTarget implements RetentionTarget {
  readonly calls: { cutoff: Date; limit: number }[] = [];
  constructor(
    readonly dataClass: DataClass,
    public rows: Date[],
  ) {}

  async purgeOlderThan(cutoff: Date, limit: number): Promise<number> {
    this.calls.push({ cutoff, limit });
    const due = this.rows.filter((at) => at < cutoff).slice(0, limit);
    this.rows = this.rows.filter((at) => !due.includes(at));
    return due.length;
  }
}

class FailingTarget implements RetentionTarget {
  calls = 0;
  constructor(
    readonly dataClass: DataClass,
    private readonly succeedFirst: number,
  ) {}

  async purgeOlderThan(_cutoff: Date, limit: number): Promise<number> {
    this.calls += 1;
    if (this.calls > this.succeedFirst) throw new Error('relation "raw_events" does not exist');
    return limit;
  }
}

describe('RetentionJob', () => {
  it('purges in batches until nothing older than the cutoff remains, and reports the figures', async () => {
    // 7 raw events older than 30 days, 3 newer (one exactly at the cutoff: kept).
    const rawEvents = new TableTarget('raw_events', [
      ...[31, 32, 33, 40, 50, 60, 365].map(daysAgo),
      daysAgo(30),
      daysAgo(29),
      daysAgo(1),
    ]);
    const deliveryLog = new TableTarget('delivery_log', [daysAgo(89), daysAgo(91)]);
    const progress: [DataClass, number][] = [];
    const job = new RetentionJob([rawEvents, deliveryLog], DEFAULT_RETENTION_POLICY, {
      now: () => NOW,
      batchSize: 3,
      onProgress: (dataClass, purgedSoFar) => progress.push([dataClass, purgedSoFar]),
    });

    const report = await job.run();

    expect(rawEvents.rows).toEqual([daysAgo(30), daysAgo(29), daysAgo(1)]);
    expect(deliveryLog.rows).toEqual([daysAgo(89)]);
    expect(rawEvents.calls).toEqual([
      { cutoff: daysAgo(30), limit: 3 },
      { cutoff: daysAgo(30), limit: 3 },
      { cutoff: daysAgo(30), limit: 3 },
    ]);
    expect(progress).toEqual([
      ['raw_events', 3],
      ['raw_events', 6],
      ['raw_events', 7],
      ['delivery_log', 1],
    ]);
    expect(report.startedAt).toEqual(NOW);
    expect(report.purged).toBe(8);
    expect(report.failures).toBe(0);
    expect(report.classes.map(({ durationMs: _, ...rest }) => rest)).toEqual([
      { dataClass: 'raw_events', cutoff: daysAgo(30), purged: 7, batches: 3, complete: true },
      { dataClass: 'delivery_log', cutoff: daysAgo(90), purged: 1, batches: 1, complete: true },
    ]);
    for (const entry of report.classes) expect(entry.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('asks once more after a full batch, and stops at the first short one', async () => {
    const target = new TableTarget('exports', [daysAgo(8), daysAgo(9), daysAgo(10), daysAgo(11)]);
    const report = await new RetentionJob([target], DEFAULT_RETENTION_POLICY, {
      now: () => NOW,
      batchSize: 2,
    }).run();
    expect(target.calls).toHaveLength(3);
    expect(report.classes[0]).toMatchObject({ purged: 4, batches: 3, complete: true });
  });

  it('runs the classes in a fixed order whatever order the targets are given in, with the policy in force', async () => {
    const exportsTarget = new TableTarget('exports', [daysAgo(3)]);
    const rawEvents = new TableTarget('raw_events', [daysAgo(3)]);
    const policy = retentionPolicy({ raw_events: { keepDays: 2 } });
    const report = await new RetentionJob([exportsTarget, rawEvents], policy, { now: () => NOW }).run();
    expect(report.classes.map((entry) => [entry.dataClass, entry.purged])).toEqual([
      ['raw_events', 1],
      ['exports', 0],
    ]);
    expect(rawEvents.rows).toEqual([]);
    expect(exportsTarget.rows).toEqual([daysAgo(3)]);
  });

  it('records a target that throws and carries on with the others', async () => {
    const failing = new FailingTarget('raw_events', 2);
    const deliveryLog = new TableTarget('delivery_log', [daysAgo(100)]);
    const report = await new RetentionJob([failing, deliveryLog], DEFAULT_RETENTION_POLICY, {
      now: () => NOW,
      batchSize: 5,
    }).run();
    expect(failing.calls).toBe(3);
    expect(report.failures).toBe(1);
    expect(report.purged).toBe(11);
    expect(report.classes[0]).toMatchObject({
      dataClass: 'raw_events',
      purged: 10,
      batches: 2,
      complete: false,
      error: 'relation "raw_events" does not exist',
    });
    expect(report.classes[1]).toMatchObject({ dataClass: 'delivery_log', purged: 1, complete: true });
    expect(report.classes[1].error).toBeUndefined();
    expect(deliveryLog.rows).toEqual([]);
  });

  it('treats an impossible count from a target as its failure', async () => {
    const liar: RetentionTarget = {
      dataClass: 'exports',
      purgeOlderThan: async (_cutoff, limit) => limit + 1,
    };
    const report = await new RetentionJob([liar], DEFAULT_RETENTION_POLICY, {
      now: () => NOW,
      batchSize: 4,
    }).run();
    expect(report.classes[0]).toMatchObject({
      purged: 0,
      batches: 0,
      error: 'purgeOlderThan must resolve to a whole number from 0 to 4, got 5',
    });
  });

  it('stops a target that never drains after maxBatchesPerClass and says it is not complete', async () => {
    const endless = new FailingTarget('delivery_log', Infinity);
    const report = await new RetentionJob([endless], DEFAULT_RETENTION_POLICY, {
      now: () => NOW,
      batchSize: 10,
      maxBatchesPerClass: 4,
    }).run();
    expect(endless.calls).toBe(4);
    expect(report.classes[0]).toMatchObject({ purged: 40, batches: 4, complete: false });
    expect(report.classes[0].error).toBeUndefined();
  });

  it('refuses targets for the kept classes and bad options', () => {
    for (const kept of ['consent_ledger', 'suppression_list', 'audit_log']) {
      const target = { dataClass: kept, purgeOlderThan: async () => 0 } as unknown as RetentionTarget;
      expect(() => new RetentionJob([target], DEFAULT_RETENTION_POLICY)).toThrow(
        `retention: ${kept} is kept for good (consent proof, the suppression list and the audit log are never purged)`,
      );
    }
    const unknown = { dataClass: 'sessions', purgeOlderThan: async () => 0 } as unknown as RetentionTarget;
    expect(() => new RetentionJob([unknown], DEFAULT_RETENTION_POLICY)).toThrow(
      'retention: unknown data class "sessions"',
    );
    const target = new TableTarget('exports', []);
    expect(() => new RetentionJob([target], DEFAULT_RETENTION_POLICY, { batchSize: 0 })).toThrow(
      'batchSize must be a whole number of at least 1, got 0',
    );
  });

  it('refuses a second run while one is under way, and runs again once it is over', async () => {
    let release: () => void = () => undefined;
    let calls = 0;
    const slow: RetentionTarget = {
      dataClass: 'exports',
      purgeOlderThan: () => {
        calls += 1;
        return calls === 1 ? new Promise<number>((done) => (release = () => done(0))) : Promise.resolve(0);
      },
    };
    const job = new RetentionJob([slow], DEFAULT_RETENTION_POLICY, { now: () => NOW });
    const first = job.run();
    await expect(job.run()).rejects.toThrow('retention: a run is already under way');
    release();
    await expect(first).resolves.toMatchObject({ purged: 0, failures: 0 });
    await expect(job.run()).resolves.toMatchObject({ purged: 0, failures: 0 });
    expect(calls).toBe(2);
  });
});

describe('ExportFolderRetention', () => {
  let dir: string;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'tessera-exports-'));
  });

  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  function exportFile(name: string, modified: Date): string {
    const path = join(dir, name);
    writeFileSync(path, '{"email":"ada@example.com"}\n');
    utimesSync(path, modified, modified);
    return path;
  }

  it('deletes, oldest first and at most limit at a time, the files modified before the cutoff', async () => {
    exportFile('dsr-1.json', daysAgo(20));
    exportFile('dsr-2.json', daysAgo(8));
    exportFile('dsr-3.json', daysAgo(10));
    exportFile('at-cutoff.json', daysAgo(7));
    exportFile('recent.json', daysAgo(1));
    const target = new ExportFolderRetention(dir);

    expect(await target.purgeOlderThan(daysAgo(7), 2)).toBe(2);
    expect(readdirSync(dir).sort()).toEqual(['at-cutoff.json', 'dsr-2.json', 'recent.json']);
    expect(await target.purgeOlderThan(daysAgo(7), 2)).toBe(1);
    expect(readdirSync(dir).sort()).toEqual(['at-cutoff.json', 'recent.json']);
    expect(await target.purgeOlderThan(daysAgo(7), 2)).toBe(0);
  });

  it('leaves sub-folders and symbolic links alone, and treats a missing folder as empty', async () => {
    const sub = join(dir, 'nested');
    mkdirSync(sub);
    utimesSync(sub, daysAgo(30), daysAgo(30));
    const outside = mkdtempSync(join(tmpdir(), 'tessera-outside-'));
    try {
      const kept = join(outside, 'kept.json');
      writeFileSync(kept, 'x');
      utimesSync(kept, daysAgo(30), daysAgo(30));
      symlinkSync(kept, join(dir, 'link.json'));
      expect(await new ExportFolderRetention(dir).purgeOlderThan(daysAgo(7), 10)).toBe(0);
      expect(existsSync(kept)).toBe(true);
      expect(readdirSync(dir).sort()).toEqual(['link.json', 'nested']);
    } finally {
      rmSync(outside, { recursive: true, force: true });
    }
    expect(await new ExportFolderRetention(join(dir, 'absent')).purgeOlderThan(daysAgo(7), 10)).toBe(0);
  });

  it('is what the job runs for exports: only files older than 7 days go, in batches', async () => {
    for (let day = 8; day < 13; day += 1) exportFile(`old-${day}.json`, daysAgo(day));
    exportFile('fresh.json', daysAgo(6));
    const progress: number[] = [];
    const report = await new RetentionJob([new ExportFolderRetention(dir)], DEFAULT_RETENTION_POLICY, {
      now: () => NOW,
      batchSize: 2,
      onProgress: (_dataClass, purgedSoFar) => progress.push(purgedSoFar),
    }).run();
    expect(readdirSync(dir)).toEqual(['fresh.json']);
    expect(progress).toEqual([2, 4, 5]);
    expect(report.classes).toHaveLength(1);
    expect(report.classes[0]).toMatchObject({
      dataClass: 'exports',
      target: `export-folder:${dir}`,
      cutoff: daysAgo(7),
      purged: 5,
      batches: 3,
      complete: true,
    });
  });
});
