/** The requests one emulator's mount was sent since the sandbox started or was last reset. */
export interface SandboxStats {
  total: number;
  /** Answers by HTTP status, e.g. `{ "200": 180, "429": 2 }`. */
  byStatus: Record<string, number>;
  /** Requests by `'METHOD /path-template'`, ids replaced by `{id}` (e.g. `PUT /3.0/lists/{id}/members/{id}`). */
  byEndpoint: Record<string, number>;
  /** Answered 429, whether by the emulator's own limiter or by an injected `rate-limit` fault. */
  throttled: number;
  /** Answered 429 by the emulator itself: the client outran the ESP's limits (self-inflicted). */
  throttledByEmulator: number;
  /** Answered by an injected fault of any kind (included in `total` and `byStatus`). */
  injectedFaults: number;
}

/** Distinct endpoint templates kept per mount; past it, requests count under `'METHOD {other}'`. */
export const MAX_ENDPOINT_TEMPLATES = 500;

const ID_LIKE: readonly RegExp[] = [
  /^\d+$/, // numeric ids
  /^[0-9a-f]{8,}$/i, // hex ids, md5 hashes (Mailchimp's subscriber hash)
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, // uuids
  /^[0-7][0-9A-HJKMNP-TV-Z]{25}$/, // ULIDs (Klaviyo's profile ids)
  /^[^@\s]+@[^@\s]+$/, // email addresses
];

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

/** True when a path segment looks like an id rather than a resource name: what `{id}` stands for. */
export function looksLikeId(segment: string): boolean {
  const decoded = decodeSegment(segment);
  return ID_LIKE.some((pattern) => pattern.test(decoded));
}

/**
 * The path with every segment that looks like an id (digits, hex of 8 or more, a uuid, a ULID, an email, an
 * md5) replaced by `{id}`: `/3.0/lists/a1b2c3d4e5/members/5f4dcc3b5aa765d61d8327deb882cf99` →
 * `/3.0/lists/{id}/members/{id}`. Emulators whose ids look like names provide `endpointTemplate` instead.
 */
export function defaultEndpointTemplate(path: string): string {
  return path
    .split('/')
    .map((segment) => (segment !== '' && looksLikeId(segment) ? '{id}' : segment))
    .join('/');
}

/** Counts the requests of one mount. */
export class SandboxStatsCounter {
  private stats: SandboxStats = SandboxStatsCounter.empty();

  private static empty(): SandboxStats {
    return {
      total: 0,
      byStatus: {},
      byEndpoint: {},
      throttled: 0,
      throttledByEmulator: 0,
      injectedFaults: 0,
    };
  }

  count(endpoint: string, method: string, status: number, injected: boolean): void {
    const stats = this.stats;
    stats.total += 1;
    stats.byStatus[status] = (stats.byStatus[status] ?? 0) + 1;
    const known = stats.byEndpoint[endpoint] !== undefined;
    const key =
      known || Object.keys(stats.byEndpoint).length < MAX_ENDPOINT_TEMPLATES ? endpoint : `${method} {other}`;
    stats.byEndpoint[key] = (stats.byEndpoint[key] ?? 0) + 1;
    if (status === 429) {
      stats.throttled += 1;
      if (!injected) stats.throttledByEmulator += 1;
    }
    if (injected) stats.injectedFaults += 1;
  }

  /** A copy: later requests do not change it. */
  snapshot(): SandboxStats {
    return structuredClone(this.stats);
  }

  reset(): void {
    this.stats = SandboxStatsCounter.empty();
  }
}
