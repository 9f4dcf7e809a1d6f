import { performance } from 'node:perf_hooks';
import {
  isDataClass,
  isKeptClass,
  keptClassMessage,
  retentionCutoff,
  DATA_CLASSES,
  type DataClass,
  type RetentionPolicy,
} from './retention-policy';

/**
 * Somewhere data of one class lives, able to delete what is older than a cutoff. The pipeline registers
 * targets for raw events and the delivery log; `ExportFolderRetention` is the one for exports. For
 * `closed_account_pii` the cutoff applies to the closure date of the account.
 */
export interface RetentionTarget {
  readonly dataClass: DataClass;
  /** Names the target in the report when a class has more than one (e.g. `pii-vault`). */
  readonly name?: string;
  /** Deletes at most `limit` items older than `cutoff`; resolves to how many it deleted. */
  purgeOlderThan(cutoff: Date, limit: number): Promise<number>;
}

/** What one target purged in a run. */
export interface RetentionClassReport {
  dataClass: DataClass;
  target?: string;
  cutoff: Date;
  purged: number;
  batches: number;
  durationMs: number;
  /**
   * True when the target reported a batch short of the batch size, i.e. nothing older remains. False after
   * a failure or when `maxBatchesPerClass` was reached (the next run carries on).
   */
  complete: boolean;
  /** Why the target failed; what it purged before is still counted. */
  error?: string;
}

export interface RetentionReport {
  startedAt: Date;
  durationMs: number;
  classes: RetentionClassReport[];
  purged: number;
  /** How many targets failed; the others still ran. */
  failures: number;
}

export interface RetentionJobOptions {
  /** The clock the cutoffs are computed from; default the system clock. */
  now?: () => Date;
  /** Items a target deletes per call; default 1000. */
  batchSize?: number;
  /** Stop a target after this many batches in one run (a guard against a target that never drains); default 10 000. */
  maxBatchesPerClass?: number;
  /** Called after every batch with the class and what its target has purged so far in this run. */
  onProgress?: (dataClass: DataClass, purgedSoFar: number) => void;
}

export const DEFAULT_RETENTION_BATCH_SIZE = 1000;
export const DEFAULT_MAX_BATCHES_PER_CLASS = 10_000;

/** Duck-typed: errors from a driver may come from another realm, where `instanceof Error` is false. */
function errorMessage(error: unknown): string {
  if (typeof error === 'object' && error !== null && typeof (error as Error).message === 'string') {
    return (error as Error).message;
  }
  return String(error);
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw new RangeError(`${name} must be a whole number of at least 1, got ${value}`);
  }
  return value;
}

/**
 * The scheduled retention job: for each target, in the order of `DATA_CLASSES`, deletes in batches what is
 * older than the class's cutoff until a batch comes back short. A target that throws is recorded in the
 * report and the job goes on with the others. Targets for kept classes (consent ledger, suppression list,
 * audit log) are refused when the job is made, so a run can never touch them.
 */
export class RetentionJob {
  private readonly targets: RetentionTarget[];
  private readonly now: () => Date;
  private readonly batchSize: number;
  private readonly maxBatches: number;
  private readonly onProgress?: (dataClass: DataClass, purgedSoFar: number) => void;
  private running = false;

  constructor(
    targets: readonly RetentionTarget[],
    private readonly policy: RetentionPolicy,
    options: RetentionJobOptions = {},
  ) {
    for (const target of targets) {
      const name: string = target.dataClass;
      if (isKeptClass(name)) throw new Error(`retention: ${keptClassMessage(name)}`);
      if (!isDataClass(name)) throw new Error(`retention: unknown data class "${name}"`);
      const rule = policy[target.dataClass] as RetentionPolicy[DataClass] | undefined;
      if (rule === undefined) throw new Error(`retention: the policy has no rule for ${name}`);
    }
    this.targets = [...targets].sort(
      (a, b) => DATA_CLASSES.indexOf(a.dataClass) - DATA_CLASSES.indexOf(b.dataClass),
    );
    this.now = options.now ?? (() => new Date());
    this.batchSize = positiveInteger(options.batchSize ?? DEFAULT_RETENTION_BATCH_SIZE, 'batchSize');
    this.maxBatches = positiveInteger(
      options.maxBatchesPerClass ?? DEFAULT_MAX_BATCHES_PER_CLASS,
      'maxBatchesPerClass',
    );
    this.onProgress = options.onProgress;
  }

  /** Runs once over every target; rejects only if a run is already under way or `onProgress` throws. */
  async run(): Promise<RetentionReport> {
    if (this.running) throw new Error('retention: a run is already under way');
    this.running = true;
    try {
      const startedAt = this.now();
      const started = performance.now();
      const classes: RetentionClassReport[] = [];
      for (const target of this.targets) classes.push(await this.purge(target, startedAt));
      return {
        startedAt,
        durationMs: performance.now() - started,
        classes,
        purged: classes.reduce((sum, entry) => sum + entry.purged, 0),
        failures: classes.filter((entry) => entry.error !== undefined).length,
      };
    } finally {
      this.running = false;
    }
  }

  private async purge(target: RetentionTarget, now: Date): Promise<RetentionClassReport> {
    const cutoff = retentionCutoff(this.policy, target.dataClass, now);
    const started = performance.now();
    const report: RetentionClassReport = {
      dataClass: target.dataClass,
      ...(target.name === undefined ? {} : { target: target.name }),
      cutoff,
      purged: 0,
      batches: 0,
      durationMs: 0,
      complete: false,
    };
    while (report.batches < this.maxBatches) {
      let purged: number;
      try {
        purged = await target.purgeOlderThan(cutoff, this.batchSize);
        if (!Number.isInteger(purged) || purged < 0 || purged > this.batchSize) {
          throw new Error(
            `purgeOlderThan must resolve to a whole number from 0 to ${this.batchSize}, got ${purged}`,
          );
        }
      } catch (error) {
        report.error = errorMessage(error);
        break;
      }
      report.batches += 1;
      report.purged += purged;
      this.onProgress?.(target.dataClass, report.purged);
      if (purged < this.batchSize) {
        report.complete = true;
        break;
      }
    }
    report.durationMs = performance.now() - started;
    return report;
  }
}
