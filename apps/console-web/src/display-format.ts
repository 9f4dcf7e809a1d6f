/** `HH:MM:SS` in the browser's time zone. */
export function formatClock(at: string | number | Date): string {
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) return String(at);
  return date.toLocaleTimeString('en-GB', { hour12: false });
}

/** `2025-05-01 14:03:22` in the browser's time zone; empty for no time. */
export function formatDateTime(at: string | null | undefined): string {
  if (!at) return '';
  const date = new Date(at);
  if (Number.isNaN(date.getTime())) return at;
  const pad = (n: number) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${formatClock(date)}`;
}

/** Shown for a figure the API has no value for yet (null). */
export const NO_FIGURE = '—';

/** A 0–1 share as a percentage with one decimal (`—` for none). */
export function formatPercent(share: number | null): string {
  if (share === null) return NO_FIGURE;
  return `${(share * 100).toFixed(1)} %`;
}

/** Seconds as `850 ms` or `1.25 s` (`—` for none). */
export function formatSeconds(seconds: number | null): string {
  if (seconds === null) return NO_FIGURE;
  return seconds < 1 ? `${Math.round(seconds * 1000)} ms` : `${seconds.toFixed(2)} s`;
}

/** One-line JSON (`—` for nothing). */
export function compactJson(value: unknown): string {
  if (value === undefined || value === null) return '—';
  return JSON.stringify(value);
}

export function prettyJson(value: unknown): string {
  if (typeof value === 'string') {
    try {
      return JSON.stringify(JSON.parse(value), null, 2);
    } catch {
      return value;
    }
  }
  return JSON.stringify(value, null, 2) ?? String(value);
}
