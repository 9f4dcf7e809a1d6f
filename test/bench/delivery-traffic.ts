/**
 * The traffic of `npm run bench:delivery`: the demo's own events (its seeded members, then its live stream),
 * signed with the demo sources' secrets and posted to the intake as real HTTP requests, in the shapes the
 * benchmark measures — a trickle of single-event requests, a paced stream of batches, and batches as fast as
 * the pipeline takes them.
 */
import { DemoEventStream, type DemoEvent } from '@tessera/runtime';
import { signedHeaders } from '@tessera/testing';

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Where events go: the intake's base URL and each demo source's signing secret. */
export interface IntakeTarget {
  baseUrl: string;
  secrets: ReadonlyMap<string, string>;
}

/** What the intake answered, counted per event and per request. */
export class IntakeTally {
  requests = 0;
  events = 0;
  accepted = 0;
  duplicate = 0;
  rejected = 0;
  /** Requests refused whole (429, 503, network), by status ('network' for no answer). */
  refusedRequests: Record<string, number> = {};
  firstRejection?: string;

  refused(status: string): void {
    this.refusedRequests[status] = (this.refusedRequests[status] ?? 0) + 1;
  }

  summary(): string {
    const refused = Object.entries(this.refusedRequests)
      .map(([status, count]) => `${count} × ${status}`)
      .join(', ');
    return (
      `${this.events.toLocaleString('en-US')} events in ${this.requests.toLocaleString('en-US')} requests: ` +
      `${this.accepted.toLocaleString('en-US')} accepted, ${this.duplicate} duplicate, ${this.rejected} rejected` +
      (refused === '' ? '' : `; requests refused: ${refused}`) +
      (this.firstRejection === undefined ? '' : ` (first rejection: ${this.firstRejection})`)
    );
  }
}

interface EventResult {
  id: string | null;
  status: 'accepted' | 'duplicate' | 'rejected';
  errors?: Array<{ path: string; message: string }>;
}

/**
 * Posts the events of one source (one event in structured mode, or a batch), counts the answer; resolves with
 * the Retry-After (ms) when the request was refused whole with 429/503, else 0.
 */
export async function postEvents(
  target: IntakeTarget,
  sourceId: string,
  events: readonly DemoEvent[],
  tally: IntakeTally,
): Promise<number> {
  const secret = target.secrets.get(sourceId);
  if (secret === undefined) throw new Error(`no signing secret for demo source "${sourceId}"`);
  const single = events.length === 1;
  const body = single ? JSON.stringify(events[0]?.event) : JSON.stringify(events.map((event) => event.event));
  tally.requests += 1;
  let response: Response;
  try {
    response = await fetch(`${target.baseUrl}/v1/sources/${sourceId}/events`, {
      method: 'POST',
      headers: {
        'content-type': single ? 'application/cloudevents+json' : 'application/cloudevents-batch+json',
        ...signedHeaders(secret, body),
      },
      body,
      signal: AbortSignal.timeout(30_000),
    });
  } catch {
    tally.refused('network');
    return 1_000;
  }
  const answer = (await response.json().catch(() => undefined)) as { results?: EventResult[] } | undefined;
  if ([202, 207, 400].includes(response.status) && Array.isArray(answer?.results)) {
    tally.events += events.length;
    for (const result of answer.results) {
      tally[result.status] += 1;
      if (result.status === 'rejected' && tally.firstRejection === undefined)
        tally.firstRejection = `${result.id ?? '(no id)'}: ${(result.errors ?? []).map((error) => `${error.path} ${error.message}`).join('; ')}`;
    }
    return 0;
  }
  tally.refused(String(response.status));
  return response.status === 429 || response.status === 503
    ? Number(response.headers.get('retry-after') ?? '1') * 1000
    : 0;
}

function bySource(events: readonly DemoEvent[]): Map<string, DemoEvent[]> {
  const groups = new Map<string, DemoEvent[]>();
  for (const event of events) {
    const group = groups.get(event.sourceId) ?? [];
    group.push(event);
    groups.set(event.sourceId, group);
  }
  return groups;
}

/** Sends the seed events in batches per source, a few requests at once; a refused batch is sent again. */
export async function sendSeed(
  target: IntakeTarget,
  events: readonly DemoEvent[],
  tally: IntakeTally,
  options: { batch: number; inFlight: number },
): Promise<void> {
  const batches = [...bySource(events)].flatMap(([, group]) =>
    Array.from({ length: Math.ceil(group.length / options.batch) }, (_, index) =>
      group.slice(index * options.batch, (index + 1) * options.batch),
    ),
  );
  let next = 0;
  await Promise.all(
    Array.from({ length: options.inFlight }, async () => {
      while (next < batches.length) {
        const batch = batches[next++] ?? [];
        for (let attempt = 0; attempt < 20; attempt++) {
          const retryAfter = await postEvents(target, batch[0]?.sourceId ?? '', batch, tally);
          if (retryAfter === 0) break;
          await sleep(Math.min(retryAfter, 5_000));
        }
      }
    }),
  );
}

export interface PacedResult {
  /** Wall-clock bounds of the sending (ms since the epoch): the phase's events were received inside them. */
  startedAt: number;
  endedAt: number;
  /** Events handed to the intake; may fall short of the schedule when requests back up. */
  sent: number;
  seconds: number;
}

/**
 * Open-loop pacing: `rate` events per second for `seconds`, drawn from the demo stream. `batchMs` 0 sends every
 * event in a request of its own on its own slot (the trickle); otherwise every `batchMs` the events due go in
 * one request per source (the stream). At most `maxInFlight` requests wait for an answer; past it the events
 * due are sent with the next slot, so the achieved rate shows when the intake cannot keep up.
 */
export async function sendPaced(
  target: IntakeTarget,
  stream: DemoEventStream,
  tally: IntakeTally,
  options: { rate: number; seconds: number; batchMs: number; maxInFlight: number },
): Promise<PacedResult> {
  const slotMs = options.batchMs === 0 ? 1000 / options.rate : options.batchMs;
  const perSlot = options.batchMs === 0 ? 1 : (options.rate * options.batchMs) / 1000;
  const slots = Math.round((options.seconds * 1000) / slotMs);
  const inFlight = new Set<Promise<unknown>>();
  const pending: DemoEvent[] = [];
  let owed = 0;
  let sent = 0;
  const startedAt = Date.now();
  const started = performance.now();
  for (let slot = 0; slot < slots; slot++) {
    const wait = started + slot * slotMs - performance.now();
    if (wait > 0) await sleep(wait);
    owed += perSlot;
    if (inFlight.size >= options.maxInFlight) continue;
    const due: DemoEvent[] = [];
    while (due.length < Math.floor(owed)) {
      if (pending.length === 0) pending.push(...stream.next(new Date()));
      due.push(pending.shift() as DemoEvent);
    }
    owed -= due.length;
    sent += due.length;
    const requests =
      options.batchMs === 0
        ? due.map((event) => [event.sourceId, [event]] as const)
        : [...bySource(due)].map(([sourceId, group]) => [sourceId, group] as const);
    for (const [sourceId, group] of requests) {
      const request = postEvents(target, sourceId, group, tally).finally(() => inFlight.delete(request));
      inFlight.add(request);
    }
  }
  await Promise.all(inFlight);
  return { startedAt, endedAt: Date.now(), sent, seconds: (performance.now() - started) / 1000 };
}

/**
 * Batches of `batch` events with `inFlight` requests at once for `seconds`, holding back while `backlog()`
 * (events accepted and not yet through the pipeline's route stage) is above `maxBacklog`: the rate is the
 * pipeline's, not the intake's.
 */
export async function sendSaturating(
  target: IntakeTarget,
  stream: DemoEventStream,
  tally: IntakeTally,
  options: { seconds: number; batch: number; inFlight: number; maxBacklog: number; backlog: () => number },
): Promise<PacedResult> {
  const startedAt = Date.now();
  const started = performance.now();
  const deadline = started + options.seconds * 1000;
  const pending: DemoEvent[] = [];
  let sent = 0;
  await Promise.all(
    Array.from({ length: options.inFlight }, async () => {
      while (performance.now() < deadline) {
        if (options.backlog() > options.maxBacklog) {
          await sleep(20);
          continue;
        }
        while (pending.length < options.batch) pending.push(...stream.next(new Date()));
        const batch = pending.splice(0, options.batch);
        sent += batch.length;
        for (const [sourceId, group] of bySource(batch)) {
          const retryAfter = await postEvents(target, sourceId, group, tally);
          if (retryAfter > 0) await sleep(Math.min(retryAfter, 2_000));
        }
      }
    }),
  );
  return { startedAt, endedAt: Date.now(), sent, seconds: (performance.now() - started) / 1000 };
}
