/**
 * `npm run demo:traffic`: sends the demo members, then a live stream of loyalty, commerce and showroom
 * events, to the demo sources of a running `npm start`, signed with the secrets in demo-credentials.json.
 *
 *   npm run demo:traffic -- [--url http://127.0.0.1:8080] [--rate 50] [--duration 60] [--no-seed] [--seed-only]
 *
 * The seed events have fixed ids, so running it again re-sends them harmlessly (ingest and the pipeline
 * take them for duplicates); stream events carry a fresh run id. Ctrl-C prints a summary and exits 0.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Webhook } from 'standardwebhooks';
import {
  DEMO_CREDENTIALS_FILE,
  DEMO_GROUP_SOURCE_ID,
  DEMO_SPORTS_SOURCE_ID,
  DemoEventStream,
  demoMembers,
  demoSeedEvents,
  type DemoCredentials,
  type DemoEvent,
} from '@tessera/runtime';

const USAGE = `Usage: npm run demo:traffic -- [options]

  --url <url>        Tessera's base URL (default $TESSERA_URL, else http://127.0.0.1:$PORT, PORT default 8080)
  --rate <n>         stream events per second (default 50)
  --duration <s>     stop after this many seconds (default: run until Ctrl-C)
  --no-seed          skip sending the demo members
  --seed-only        send the demo members, then exit
  --help             this text

Reads TESSERA_DATA_DIR/${DEMO_CREDENTIALS_FILE} (default ./.tessera), written by the first \`npm start\`.
`;

/** At most this many events in one request (ingest takes up to 1,000 and 1 MiB). */
const SEED_BATCH = 250;
const MAX_IN_FLIGHT = 8;
const TICK_MS = 100;

interface Options {
  url: string;
  rate: number;
  durationSeconds?: number;
  seed: boolean;
  stream: boolean;
}

/** A message for the person running the script, and no stack trace. */
class DemoTrafficError extends Error {}

function parseOptions(argv: string[]): Options {
  const port = process.env['PORT'] ?? '8080';
  const options: Options = {
    url: process.env['TESSERA_URL'] ?? `http://127.0.0.1:${port}`,
    rate: 50,
    seed: true,
    stream: true,
  };
  const valueOf = (flag: string, index: number): string => {
    const value = argv[index + 1];
    if (value === undefined || value.startsWith('--'))
      throw new DemoTrafficError(`${flag} needs a value\n\n${USAGE}`);
    return value;
  };
  const positive = (flag: string, text: string): number => {
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0)
      throw new DemoTrafficError(`${flag} must be a positive number, got "${text}"`);
    return value;
  };
  for (let index = 0; index < argv.length; index++) {
    const flag = argv[index];
    switch (flag) {
      case '--url':
        options.url = valueOf(flag, index++);
        break;
      case '--rate':
        options.rate = positive(flag, valueOf(flag, index++));
        break;
      case '--duration':
        options.durationSeconds = positive(flag, valueOf(flag, index++));
        break;
      case '--no-seed':
        options.seed = false;
        break;
      case '--seed-only':
        options.stream = false;
        break;
      case '--help':
      case '-h':
        process.stdout.write(USAGE);
        process.exit(0);
        break;
      default:
        throw new DemoTrafficError(`unknown option "${flag}"\n\n${USAGE}`);
    }
  }
  options.url = options.url.replace(/\/+$/, '');
  return options;
}

function readCredentials(): { credentials: DemoCredentials; file: string } {
  const dataDir = process.env['TESSERA_DATA_DIR'] ?? '.tessera';
  const file = resolve(dataDir, DEMO_CREDENTIALS_FILE);
  if (!existsSync(file)) {
    throw new DemoTrafficError(
      `no demo credentials at ${file}.\n` +
        '`npm start` writes them on its first embedded start (no DATABASE_URL, TESSERA_DEMO not off); ' +
        'start it with the same TESSERA_DATA_DIR, then run this again.',
    );
  }
  const credentials = JSON.parse(readFileSync(file, 'utf8')) as Partial<DemoCredentials>;
  const sources = credentials.sources ?? [];
  for (const id of [DEMO_GROUP_SOURCE_ID, DEMO_SPORTS_SOURCE_ID]) {
    if (!sources.some((source) => source.id === id)) {
      throw new DemoTrafficError(
        `${file} has no "${id}" source: it was written by an older Tessera. ` +
          'Start `npm start` once (it upgrades the file, keeping the existing secret), then run this again.',
      );
    }
  }
  return { credentials: credentials as DemoCredentials, file };
}

/** What came back, counted: per event, and per failed request. */
class Tally {
  sent = 0;
  accepted = 0;
  duplicate = 0;
  rejected = 0;
  failedRequests = 0;
  lastError?: string;
  firstRejection?: string;
  /** Times (ms) and cumulative `sent`, to show the rate over the last seconds. */
  private readonly samples: Array<[number, number]> = [];

  sample(now: number): void {
    this.samples.push([now, this.sent]);
    while (this.samples.length > 2 && (this.samples[0]?.[0] ?? now) < now - 5_000) this.samples.shift();
  }

  rate(): number {
    const first = this.samples[0];
    const last = this.samples[this.samples.length - 1];
    if (first === undefined || last === undefined || last[0] === first[0]) return 0;
    return ((last[1] - first[1]) * 1000) / (last[0] - first[0]);
  }
}

interface IngestResult {
  id: string | null;
  status: 'accepted' | 'duplicate' | 'rejected';
  errors?: Array<{ path: string; message: string }>;
}

/** A failure a retry may cure (Tessera busy, rate-limited, restarting), with how long to wait. */
class RetryLater extends Error {
  constructor(
    message: string,
    readonly afterMs: number,
  ) {
    super(message);
  }
}

class DemoSender {
  private readonly signers = new Map<string, Webhook>();
  /** Nothing is sent before this time: a 429 or 503 asked for a pause. */
  pausedUntil = 0;

  constructor(
    private readonly url: string,
    credentials: DemoCredentials,
    private readonly tally: Tally,
  ) {
    for (const source of credentials.sources) this.signers.set(source.id, new Webhook(source.secret));
  }

  /** Posts one signed batch and counts its results; throws RetryLater, or DemoTrafficError when hopeless. */
  async post(sourceId: string, events: DemoEvent[]): Promise<void> {
    const signer = this.signers.get(sourceId);
    if (signer === undefined) throw new DemoTrafficError(`no secret for source "${sourceId}"`);
    const body = JSON.stringify(events.map(({ event }) => event));
    const webhookId = `msg_${randomBytes(12).toString('hex')}`;
    const at = new Date();
    let response: Response;
    try {
      response = await fetch(`${this.url}/v1/sources/${sourceId}/events`, {
        method: 'POST',
        headers: {
          'content-type': 'application/cloudevents-batch+json',
          'webhook-id': webhookId,
          'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
          'webhook-signature': signer.sign(webhookId, at, body),
        },
        body,
        signal: AbortSignal.timeout(15_000),
      });
    } catch (error) {
      const reason = causeOf(error);
      this.failed(`network: ${reason}`);
      throw new RetryLater(`Tessera did not answer (${reason})`, 2_000);
    }
    const text = await response.text();
    const answer = parseJson(text);
    const results = (answer as { results?: IngestResult[] } | undefined)?.results;
    if ([202, 207, 400].includes(response.status) && Array.isArray(results)) {
      this.tally.sent += events.length;
      for (const result of results) {
        this.tally[result.status] += 1;
        if (result.status === 'rejected' && this.tally.firstRejection === undefined) {
          this.tally.firstRejection = `${result.id ?? '(no id)'}: ${(result.errors ?? []).map((error) => `${error.path} ${error.message}`).join('; ')}`;
        }
      }
      return;
    }
    const message =
      (answer as { message?: string; error?: string } | undefined)?.message ?? text.slice(0, 200);
    this.failed(`${response.status} ${message}`);
    if (response.status === 429 || response.status === 503 || response.status >= 500) {
      const afterMs = Number(response.headers.get('retry-after') ?? '1') * 1000;
      this.pausedUntil = Math.max(this.pausedUntil, Date.now() + afterMs);
      throw new RetryLater(`${response.status} ${message}`, afterMs);
    }
    if (response.status === 401 || response.status === 404) {
      throw new DemoTrafficError(
        `Tessera at ${this.url} answered ${response.status} for source "${sourceId}" (${message}): it does not ` +
          'know these demo credentials. Run this with the TESSERA_DATA_DIR that `npm start` uses.',
      );
    }
    throw new DemoTrafficError(`Tessera answered ${response.status}: ${message}`);
  }

  private failed(description: string): void {
    this.tally.failedRequests += 1;
    this.tally.lastError = description;
  }
}

const parseJson = (text: string): unknown => {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
};

function causeOf(error: unknown): string {
  const cause = (error as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (error as Error).message;
}

const sleep = (ms: number) => new Promise<void>((done) => setTimeout(done, ms));

function bySource(events: DemoEvent[]): Map<string, DemoEvent[]> {
  const groups = new Map<string, DemoEvent[]>();
  for (const event of events) {
    const group = groups.get(event.sourceId) ?? [];
    group.push(event);
    groups.set(event.sourceId, group);
  }
  return groups;
}

async function checkReachable(url: string): Promise<void> {
  try {
    await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(3_000) });
  } catch (error) {
    throw new DemoTrafficError(
      `Tessera is not reachable at ${url} (${causeOf(error)}): start it with \`npm start\` in another ` +
        'terminal (or point --url at it), then run this again.',
    );
  }
}

const count = (value: number) => value.toLocaleString('en-GB');

class Progress {
  private readonly tty = process.stdout.isTTY === true;
  private lastPlain = 0;
  private width = 0;

  constructor(private readonly tally: Tally) {}

  line(phase: string): string {
    const { tally } = this;
    const errors =
      tally.failedRequests === 0
        ? 'errors 0'
        : `errors ${count(tally.failedRequests)} (last: ${tally.lastError ?? 'unknown'})`;
    return (
      `${phase} | sent ${count(tally.sent)} · accepted ${count(tally.accepted)} · duplicate ${count(tally.duplicate)}` +
      ` · rejected ${count(tally.rejected)} · ${tally.rate().toFixed(1)}/s · ${errors}`
    );
  }

  /** Rewrites one line on a terminal; elsewhere (a log, a pipe) prints a line every 5 seconds. */
  show(phase: string, force = false): void {
    const now = Date.now();
    this.tally.sample(now);
    const text = this.line(phase);
    if (this.tty) {
      const columns = process.stdout.columns ?? 120;
      const fitted = text.length > columns - 1 ? `${text.slice(0, columns - 2)}…` : text;
      process.stdout.write(`\r${fitted}${' '.repeat(Math.max(0, this.width - fitted.length))}`);
      this.width = fitted.length;
    } else if (force || now - this.lastPlain >= 5_000) {
      process.stdout.write(`${text}\n`);
      this.lastPlain = now;
    }
  }

  /** Ends the rewritten line, so what follows starts on a line of its own. */
  done(): void {
    if (this.tty && this.width > 0) process.stdout.write('\n');
    this.width = 0;
  }
}

/** Sends a batch, retrying what a retry may cure (a few times): the seed must get in. */
async function postWithRetries(
  sender: DemoSender,
  sourceId: string,
  events: DemoEvent[],
  stopping: () => boolean,
) {
  for (let attempt = 1; ; attempt++) {
    try {
      await sender.post(sourceId, events);
      return;
    } catch (error) {
      if (!(error instanceof RetryLater) || attempt >= 8 || stopping()) throw error;
      await sleep(Math.min(error.afterMs, 10_000));
    }
  }
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const { credentials, file } = readCredentials();
  await checkReachable(options.url);

  const tally = new Tally();
  const sender = new DemoSender(options.url, credentials, tally);
  const progress = new Progress(tally);
  const started = Date.now();
  let stopping = false;
  let phase = 'seed';

  const finish = (reason: string) => {
    progress.done();
    const seconds = (Date.now() - started) / 1000;
    process.stdout.write(
      `demo-traffic: ${reason} after ${seconds.toFixed(1)} s: sent ${count(tally.sent)} events ` +
        `(${(tally.sent / Math.max(seconds, 0.001)).toFixed(1)}/s on average): accepted ${count(tally.accepted)}, ` +
        `duplicate ${count(tally.duplicate)}, rejected ${count(tally.rejected)}; failed requests ${count(tally.failedRequests)}` +
        `${tally.lastError === undefined ? '' : ` (last: ${tally.lastError})`}\n` +
        (tally.firstRejection === undefined ? '' : `  first rejection: ${tally.firstRejection}\n`),
    );
  };
  const stop = () => {
    if (stopping) process.exit(0);
    stopping = true;
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  if (options.durationSeconds !== undefined) setTimeout(stop, options.durationSeconds * 1000).unref();

  process.stdout.write(`demo-traffic: ${options.url}, credentials ${file}\n`);
  const ticker = setInterval(() => progress.show(phase), 250);
  try {
    if (options.seed) {
      const members = demoMembers();
      const seed = demoSeedEvents(members, new Date());
      process.stdout.write(
        `demo-traffic: sending ${count(members.length)} demo members (${count(seed.length)} events)\n`,
      );
      const batches = [...bySource(seed)].flatMap(([sourceId, events]) =>
        Array.from({ length: Math.ceil(events.length / SEED_BATCH) }, (_, index) => ({
          sourceId,
          events: events.slice(index * SEED_BATCH, (index + 1) * SEED_BATCH),
        })),
      );
      // A few at a time: fast, and well inside the sources' rate limits.
      for (let index = 0; index < batches.length && !stopping; index += 4) {
        await Promise.all(
          batches
            .slice(index, index + 4)
            .map((batch) => postWithRetries(sender, batch.sourceId, batch.events, () => stopping)),
        );
      }
      progress.show(phase, true);
      progress.done();
      process.stdout.write(
        `demo-traffic: members sent: ${count(tally.accepted)} events accepted, ${count(tally.duplicate)} already known` +
          `${tally.rejected === 0 ? '' : `, ${count(tally.rejected)} rejected (first: ${tally.firstRejection ?? '?'})`}\n`,
      );
    }
    if (options.stream && !stopping) {
      phase = 'stream';
      process.stdout.write(`demo-traffic: streaming about ${options.rate} events/s; Ctrl-C to stop\n`);
      await streamEvents(options.rate, sender, () => stopping);
    }
  } catch (error) {
    clearInterval(ticker);
    progress.done();
    throw error;
  }
  clearInterval(ticker);
  finish(stopping ? 'stopped' : 'done');
}

/** Generates events at `rate` per second and posts them per source every tick, until told to stop. */
async function streamEvents(rate: number, sender: DemoSender, stopping: () => boolean): Promise<void> {
  const runId = `run-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const stream = new DemoEventStream(demoMembers(), { seed: Date.now() % 2 ** 31, runId });
  const inFlight = new Set<Promise<void>>();
  let fatal: unknown;
  let owed = 0;
  let last = Date.now();
  while (!stopping() && fatal === undefined) {
    await sleep(TICK_MS);
    const now = Date.now();
    owed = Math.min(owed + ((now - last) / 1000) * rate, rate); // at most a second's worth after a pause
    last = now;
    // Busy (in-flight requests at the cap, or Tessera asked for a pause): owe the events, send them later.
    if (now < sender.pausedUntil || inFlight.size >= MAX_IN_FLIGHT || owed < 1) continue;
    const events: DemoEvent[] = [];
    while (events.length < Math.floor(owed)) events.push(...stream.next(new Date(now)));
    owed -= events.length;
    for (const [sourceId, batch] of bySource(events)) {
      const sending = sender
        .post(sourceId, batch)
        .catch((error: unknown) => {
          // The stream moves on: a lost batch is counted in the errors, a hopeless one stops the run.
          if (!(error instanceof RetryLater)) fatal = error;
        })
        .finally(() => inFlight.delete(sending));
      inFlight.add(sending);
    }
  }
  await Promise.race([Promise.all(inFlight), sleep(5_000)]);
  if (fatal !== undefined) throw fatal;
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    if (error instanceof DemoTrafficError) {
      process.stderr.write(`demo-traffic: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  },
);
