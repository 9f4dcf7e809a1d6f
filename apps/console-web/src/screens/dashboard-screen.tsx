import { useEffect, useState, type ReactElement } from 'react';
import {
  Bar,
  BarChart,
  CartesianGrid,
  Legend,
  Line,
  LineChart,
  ResponsiveContainer,
  Tooltip,
  XAxis,
  YAxis,
} from 'recharts';
import { errorMessageOf, type ApiClient } from '../api-client';
import type { DashboardFigures } from '../api-types';
import { useConsole } from '../console-context';
import { formatClock, formatPercent, formatSeconds } from '../display-format';

const HISTORY_SAMPLES = 60;
const POLL_MS = 2000;

type Feed = 'connecting' | 'stream' | 'polling';

interface Sample {
  clock: string;
  eventsPerSecond: number;
  /** Null without deliveries in the window: a gap in the latency chart. */
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

/**
 * Every figures sample: from the server-sent `figures` events, or, once the stream fails, from polling
 * `GET /v1/dashboard` every 2 s.
 */
function useFigures(api: ApiClient) {
  const [figures, setFigures] = useState<DashboardFigures | undefined>(undefined);
  const [history, setHistory] = useState<Sample[]>([]);
  const [feed, setFeed] = useState<Feed>('connecting');
  const [error, setError] = useState<string | undefined>(undefined);

  useEffect(() => {
    let stopped = false;
    let pollTimer: number | undefined;

    const take = (sample: DashboardFigures) => {
      if (stopped) return;
      setFigures(sample);
      setError(undefined);
      setHistory((previous) =>
        [
          ...previous,
          {
            clock: formatClock(sample.at),
            eventsPerSecond: sample.eventsPerSecond,
            p50: sample.latency.p50,
            p95: sample.latency.p95,
            p99: sample.latency.p99,
          },
        ].slice(-HISTORY_SAMPLES),
      );
    };

    const poll = async () => {
      try {
        take(await api.dashboard());
      } catch (failure) {
        if (!stopped) setError(errorMessageOf(failure));
      }
      if (!stopped) pollTimer = window.setTimeout(() => void poll(), POLL_MS);
    };

    const fallBackToPolling = () => {
      if (stopped) return;
      setFeed('polling');
      void poll();
    };

    let stream: EventSource | undefined;
    if (typeof EventSource === 'undefined') {
      fallBackToPolling();
    } else {
      stream = new EventSource(api.dashboardStreamUrl());
      const source = stream;
      source.addEventListener('open', () => setFeed('stream'));
      source.addEventListener('figures', (event: MessageEvent<string>) => {
        try {
          take(JSON.parse(event.data) as DashboardFigures);
          setFeed('stream');
        } catch (failure) {
          setError(`Unreadable figures: ${errorMessageOf(failure)}`);
        }
      });
      source.addEventListener('error', () => {
        source.close();
        fallBackToPolling();
      });
    }

    return () => {
      stopped = true;
      stream?.close();
      if (pollTimer !== undefined) window.clearTimeout(pollTimer);
    };
  }, [api]);

  return { figures, history, feed, error };
}

const FEED_TEXT: Record<Feed, string> = {
  connecting: 'Connecting to the live figures…',
  stream: 'Live: a sample every 2 s.',
  polling: 'The live stream is unavailable: polling every 2 s.',
};

/** Headline figures as text, and charts of the last samples. */
export function DashboardScreen() {
  const { api } = useConsole();
  const { figures, history, feed, error } = useFigures(api);

  const failuresByClass = figures
    ? Object.entries(figures.failuresByClass).map(([errorClass, failures]) => ({ errorClass, failures }))
    : [];

  return (
    <>
      <h1>Dashboard</h1>
      <p role="status" className="status">
        {FEED_TEXT[feed]}
      </p>
      {error ? (
        <p role="alert" className="error">
          Could not read the figures: {error}
        </p>
      ) : null}
      {/* Not a live region: announcing it every 2 s would drown everything else. */}
      <p className="last-updated">
        {figures ? (
          <>
            Last updated <time dateTime={figures.at}>{formatClock(figures.at)}</time>
          </>
        ) : (
          'Waiting for the first sample…'
        )}
      </p>
      {figures ? (
        <>
          <section aria-labelledby="headline-heading">
            <h2 id="headline-heading">Headline figures</h2>
            <dl className="headline">
              <div>
                <dt>Events per second</dt>
                <dd>{figures.eventsPerSecond.toFixed(1)}</dd>
              </div>
              <div>
                <dt>Dead letters</dt>
                <dd>{figures.deadLetters}</dd>
              </div>
              <div>
                <dt>Updates at the ESP within 10 minutes</dt>
                <dd>{formatPercent(figures.withinTenMinutesShare)}</dd>
              </div>
              <div>
                <dt>Profiles with conflicting consent</dt>
                <dd>{figures.conflictingConsentProfiles}</dd>
              </div>
              <div>
                <dt>Account-link rate</dt>
                <dd>{formatPercent(figures.accountLinkRate)}</dd>
              </div>
              <div>
                <dt>Latency p50</dt>
                <dd>{formatSeconds(figures.latency.p50)}</dd>
              </div>
              <div>
                <dt>Latency p95</dt>
                <dd>{formatSeconds(figures.latency.p95)}</dd>
              </div>
              <div>
                <dt>Latency p99</dt>
                <dd>{formatSeconds(figures.latency.p99)}</dd>
              </div>
            </dl>
          </section>

          <div className="charts">
            <ChartFigure title="Events per second, last 60 samples">
              <LineChart data={history}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="clock" minTickGap={24} />
                <YAxis allowDecimals />
                <Tooltip />
                <Line
                  type="monotone"
                  dataKey="eventsPerSecond"
                  name="Events/s"
                  stroke="#1a5fb4"
                  dot={false}
                  isAnimationActive={false}
                />
              </LineChart>
            </ChartFigure>

            <ChartFigure title="Deliveries by destination">
              <BarChart data={figures.deliveriesByDestination}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="destinationId" />
                <YAxis allowDecimals={false} />
                <Tooltip />
                <Legend />
                <Bar dataKey="ok" name="OK" fill="#2e7d32" isAnimationActive={false} />
                <Bar dataKey="failed" name="Failed" fill="#c62828" isAnimationActive={false} />
              </BarChart>
            </ChartFigure>

            <ChartFigure title="Failures by class">
              <BarChart data={failuresByClass}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="errorClass" />
                <YAxis allowDecimals={false} />
                <Tooltip />
                <Bar dataKey="failures" name="Failures" fill="#c62828" isAnimationActive={false} />
              </BarChart>
            </ChartFigure>

            <ChartFigure title="Queue depths">
              <BarChart data={figures.queueDepths}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="queue" />
                <YAxis allowDecimals={false} />
                <Tooltip />
                <Legend />
                <Bar dataKey="waiting" name="Waiting" fill="#1a5fb4" isAnimationActive={false} />
                <Bar dataKey="active" name="Active" fill="#2e7d32" isAnimationActive={false} />
                <Bar dataKey="delayed" name="Delayed" fill="#b36b00" isAnimationActive={false} />
                <Bar dataKey="failed" name="Failed" fill="#c62828" isAnimationActive={false} />
              </BarChart>
            </ChartFigure>

            <ChartFigure title="End-to-end latency (seconds), last 60 samples">
              <LineChart data={history}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="clock" minTickGap={24} />
                <YAxis />
                <Tooltip />
                <Legend />
                <Line dataKey="p50" name="p50" stroke="#2e7d32" dot={false} isAnimationActive={false} />
                <Line dataKey="p95" name="p95" stroke="#b36b00" dot={false} isAnimationActive={false} />
                <Line dataKey="p99" name="p99" stroke="#c62828" dot={false} isAnimationActive={false} />
              </LineChart>
            </ChartFigure>
          </div>
        </>
      ) : null}
    </>
  );
}

function ChartFigure({ title, children }: { title: string; children: ReactElement }) {
  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <ResponsiveContainer width="100%" height={240}>
        {children}
      </ResponsiveContainer>
    </figure>
  );
}
