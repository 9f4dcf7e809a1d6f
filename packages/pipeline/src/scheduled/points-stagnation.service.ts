import { createHash } from 'node:crypto';
import type { CatalogEvent } from '@tessera/events';
import type { ResolvedEvent } from '@tessera/queues';
import type { Store } from '@tessera/store';
import { belongsToBrandSql } from './customer-brands.repository';
import type { ScheduleCursorBook } from './schedule-cursor-book.repository';

/** The plugin the check serves, and the CloudEvents source of the events it makes. */
export const POINTS_WINBACK_PLUGIN = 'points-winback';
export const STAGNATION_EVENT_SOURCE = 'tessera://scheduler/points-stagnation';
/** The plugin's own default (`stagnantDays`), for a config that somehow lacks a usable value. */
export const DEFAULT_STAGNANT_DAYS = 90;

const DAY_MS = 24 * 60 * 60 * 1000;

const digest = (parts: readonly string[]) =>
  createHash('sha256').update(parts.join('\n')).digest('hex').slice(0, 32);

/** A brand destination as far as the check is concerned: its brand and its configured plugins. */
export interface StagnationDestination {
  brand: string;
  plugins: readonly { name: string; config: Record<string, unknown> }[];
}

/**
 * Per brand whose destinations configure the points-winback plugin, the number of days after which points
 * count as stagnant: the smallest `stagnantDays` of its configurations, so that none of them misses a member.
 */
export function stagnationThresholds(destinations: readonly StagnationDestination[]): Map<string, number> {
  const days = new Map<string, number>();
  for (const destination of destinations) {
    for (const plugin of destination.plugins) {
      if (plugin.name !== POINTS_WINBACK_PLUGIN) continue;
      const configured = plugin.config['stagnantDays'];
      const value =
        typeof configured === 'number' && Number.isInteger(configured) && configured >= 1
          ? configured
          : DEFAULT_STAGNANT_DAYS;
      days.set(destination.brand, Math.min(value, days.get(destination.brand) ?? value));
    }
  }
  return days;
}

/** Where a brand's scan stopped: the last profile routed, in scan order, and the last threshold looked at. */
export interface StagnationCursor {
  after?: { movedAt: string; customerId: string };
  checkedThrough: string;
}

export interface PointsStagnationOptions {
  store: Store;
  cursors: Pick<ScheduleCursorBook, 'get' | 'set'>;
  destinations: () => readonly StagnationDestination[];
  /** Queues a route job under `jobId`; the same id twice must be one job (BullMQ's job id dedupe). */
  route(events: ResolvedEvent[], jobId: string): Promise<void>;
  /** Profiles per route job (default 500). */
  pageSize?: number;
  now?: () => Date;
}

export interface StagnationOutcome {
  /** Brands checked (those whose destinations configure the plugin). */
  brands: number;
  /** Profiles routed (one event per profile and brand). */
  profiles: number;
  /** Route jobs queued. */
  pages: number;
}

/**
 * The points-stagnation check behind win-back: the points-winback plugin looks at `points_updated_at` only when
 * an event arrives, so a member who sends none would never be enrolled. Once a day, for each brand whose
 * destinations configure the plugin, this finds the brand's active profiles whose points last moved before the
 * brand's threshold (`now − stagnantDays`) and after where the previous run stopped, in pages read by one
 * indexed SQL statement each, and routes one synthetic `profile.updated` per profile to that plugin only, so
 * the plugin decides as it always does (minimum balance, consent). The cursor moves after each page's route
 * job is queued: a crash repeats at most that page, under the same job id and event ids.
 */
export class PointsStagnationCheck {
  private readonly pageSize: number;
  private readonly now: () => Date;

  constructor(private readonly options: PointsStagnationOptions) {
    this.pageSize = options.pageSize ?? 500;
    if (!Number.isInteger(this.pageSize) || this.pageSize < 1)
      throw new RangeError(`pageSize must be a positive integer, got ${options.pageSize}`);
    this.now = options.now ?? (() => new Date());
  }

  async run(): Promise<StagnationOutcome> {
    const thresholds = stagnationThresholds(this.options.destinations());
    const outcome: StagnationOutcome = { brands: thresholds.size, profiles: 0, pages: 0 };
    const now = this.now();
    for (const [brand, days] of [...thresholds].sort(([a], [b]) => a.localeCompare(b))) {
      const checkedThrough = new Date(now.getTime() - days * DAY_MS).toISOString();
      const name = `points-stagnation:${brand}`;
      let after = (await this.options.cursors.get<StagnationCursor>(name))?.after;
      for (;;) {
        const page = await this.stagnantPage(brand, checkedThrough, after);
        if (page.length === 0) break;
        const events = page.map((profile) => this.eventFor(brand, profile, now));
        const jobId = `stagnation-${digest([brand, ...events.map((event) => event.key.eventId)])}`;
        await this.options.route(events, jobId);
        after = page[page.length - 1];
        await this.options.cursors.set(name, { after, checkedThrough } satisfies StagnationCursor);
        outcome.profiles += page.length;
        outcome.pages += 1;
        if (page.length < this.pageSize) break;
      }
      await this.options.cursors.set(name, {
        ...(after === undefined ? {} : { after }),
        checkedThrough,
      } satisfies StagnationCursor);
    }
    return outcome;
  }

  /** The next page of the brand's active profiles whose points last moved at or before `through`. */
  private async stagnantPage(
    brand: string,
    through: string,
    after: StagnationCursor['after'],
  ): Promise<{ movedAt: string; customerId: string }[]> {
    const rows = await this.options.store.query<{ customer_id: string; moved_at: string }>(
      `SELECT p.customer_id, p.trait_times ->> 'points_balance' AS moved_at
         FROM identity_profiles p
        WHERE p.status = 'active' AND p.trait_times ? 'points_balance'
          AND (p.trait_times ->> 'points_balance') <= $2
          AND ((p.trait_times ->> 'points_balance'), p.customer_id) > ($3::text, $4::text)
          AND ${belongsToBrandSql('p.customer_id', '$1')}
        ORDER BY (p.trait_times ->> 'points_balance'), p.customer_id
        LIMIT $5`,
      [brand, through, after?.movedAt ?? '', after?.customerId ?? '', this.pageSize],
    );
    return rows.map((row) => ({ movedAt: row.moved_at, customerId: row.customer_id }));
  }

  /** Deterministic per brand, profile and stagnation episode (when the points last moved). */
  private eventFor(
    brand: string,
    profile: { movedAt: string; customerId: string },
    now: Date,
  ): ResolvedEvent {
    const eventId = `points-stagnation-${digest([brand, profile.customerId, profile.movedAt])}`;
    return {
      key: { sourceId: 'scheduler', eventSource: STAGNATION_EVENT_SOURCE, eventId },
      brand,
      receivedAt: now.toISOString(),
      customerId: profile.customerId,
      event: {
        specversion: '1.0',
        id: eventId,
        source: STAGNATION_EVENT_SOURCE,
        type: 'profile.updated',
        time: now.toISOString(),
        data: { customer_id: profile.customerId },
      } as CatalogEvent,
      onlyPlugin: POINTS_WINBACK_PLUGIN,
    };
  }
}
