import { KlaviyoApiError } from './klaviyo-errors';
import type { RouteContext } from './klaviyo-routing';

/* Klaviyo's cursor pagination: `page[size]` (1–100, default 20), opaque `page[cursor]`, absolute `links`. */

/** Opaque offset cursors (Klaviyo's are opaque too). */
function encodeCursor(offset: number): string {
  return Buffer.from(`offset:${offset}`, 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string | null): number {
  if (cursor === null) return 0;
  const match = /^offset:(\d+)$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (match === null) throw new KlaviyoApiError(400, 'Invalid page cursor.', { parameter: 'page[cursor]' });
  return Number(match[1]);
}

export function pageSize(query: URLSearchParams): number {
  const raw = query.get('page[size]');
  if (raw === null) return 20;
  const size = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!(size >= 1 && size <= 100)) {
    throw new KlaviyoApiError(400, `Invalid page size '${raw}': it must be an integer from 1 to 100.`, {
      parameter: 'page[size]',
    });
  }
  return size;
}

/** `links.self/next/prev` of the page at `offset`, on the request's own URL. */
export function pageLinks(context: RouteContext, offset: number, size: number, total: number) {
  const link = (at: number | undefined): string | null => {
    if (at === undefined) return null;
    const query = new URLSearchParams(context.request.query);
    query.delete('page[cursor]');
    if (at > 0) query.set('page[cursor]', encodeCursor(at));
    const text = query.toString();
    return `${context.base}${context.request.path}${text === '' ? '' : `?${text}`}`;
  };
  return {
    self: link(offset) ?? '',
    next: link(offset + size < total ? offset + size : undefined),
    prev: link(offset > 0 ? Math.max(0, offset - size) : undefined),
  };
}
