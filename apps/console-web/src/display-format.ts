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

/** A 0–1 share as a percentage with one decimal. */
export function formatPercent(share: number): string {
  return `${(share * 100).toFixed(1)} %`;
}

export function formatSeconds(seconds: number): string {
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
