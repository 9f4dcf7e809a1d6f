import type { EventCatalog, ValidationIssue } from '@tessera/events';
import type { IngestedEvent } from '@tessera/queues';
import { AdmissionUnavailableError, type EventAdmission } from './event-admission';
import { normalizeEvent } from './event-normalizer';
import type { IntakeMetrics } from './intake-metrics';
import { parseRequestBody } from './request-body';
import type { SourceRateLimiter } from './source-rate-limiter';
import type { SourceDirectory } from './source-directory';
import type { WebhookSignatureVerifier } from './webhook-signature';

export interface IntakeRequest {
  sourceId: string;
  contentType?: string;
  /** Lower-case header names, as Node gives them. */
  headers: Record<string, string | string[] | undefined>;
  /** The raw body, exactly as received: the signature is checked on these bytes. */
  body: Buffer;
}

export type EventResult =
  | { id: string; status: 'accepted' | 'duplicate' }
  | { id: string | null; status: 'rejected'; errors: ValidationIssue[] };

export interface IntakeResponse {
  status: number;
  headers?: Record<string, string>;
  body: { results: EventResult[] } | { error: string; message: string };
}

export interface EventIntakeDependencies {
  sources: SourceDirectory;
  catalog: EventCatalog;
  verifier: WebhookSignatureVerifier;
  rateLimiter: SourceRateLimiter;
  admission: EventAdmission;
  metrics?: IntakeMetrics;
  now?: () => Date;
}

const failure = (
  status: number,
  error: string,
  message: string,
  headers?: Record<string, string>,
): IntakeResponse => ({
  status,
  body: { error, message },
  ...(headers === undefined ? {} : { headers }),
});

/**
 * `POST /v1/sources/{sourceId}/events`: finds the source, checks the signature on the raw body, reads the
 * body in its content mode, validates every event, and admits the good ones. 202 once every accepted event
 * is in Redis; 207 when some were rejected; 400 when none was accepted.
 */
export class EventIntake {
  private readonly now: () => Date;

  constructor(private readonly deps: EventIntakeDependencies) {
    this.now = deps.now ?? (() => new Date());
  }

  async receive(request: IntakeRequest): Promise<IntakeResponse> {
    const { sources, catalog, verifier, rateLimiter, admission, metrics } = this.deps;
    const source = sources.find(request.sourceId);
    if (source === undefined)
      return failure(404, 'unknown_source', `no source "${request.sourceId}" is registered`);

    const signature = verifier.verifyRequest(source.secrets, request);
    if (!signature.ok) return failure(401, 'invalid_signature', signature.message);

    const parsed = parseRequestBody(request.contentType, request.headers, request.body, source.id);
    if (!parsed.ok) return failure(parsed.status, parsed.error, parsed.message);

    const receivedAt = this.now().toISOString();
    const results: EventResult[] = [];
    const admitted: Array<{ index: number; record: IngestedEvent }> = [];
    // Rejections are counted under the catalog type the event claimed, when it is one (labels stay bounded).
    const claimedType = (raw: unknown): string => {
      const sent = (raw as { type?: unknown } | null)?.type;
      const type = typeof sent === 'string' ? (source.typeMap[sent] ?? sent) : undefined;
      return type !== undefined && catalog.has(type) ? type : 'unknown';
    };
    for (const { raw, issues } of parsed.events) {
      if (issues !== undefined) {
        const id = (raw as { id?: unknown }).id;
        results.push({ id: typeof id === 'string' ? id : null, status: 'rejected', errors: issues });
        metrics?.count(source.id, claimedType(raw), 'rejected');
        continue;
      }
      const normalized = normalizeEvent(raw, source, catalog);
      if (!normalized.ok) {
        results.push({ id: normalized.id, status: 'rejected', errors: normalized.issues });
        metrics?.count(source.id, claimedType(raw), 'rejected');
        continue;
      }
      const record: IngestedEvent = {
        sourceId: source.id,
        brand: source.brand,
        receivedAt,
        event: normalized.event,
      };
      if (normalized.sourceType !== undefined) record.sourceType = normalized.sourceType;
      admitted.push({ index: results.length, record });
      results.push({ id: normalized.event.id, status: 'accepted' });
    }
    if (admitted.length === 0) return { status: 400, body: { results } };

    const rate = rateLimiter.take(source.id, admitted.length, source.rateLimit);
    if (!rate.ok) {
      return failure(
        429,
        'rate_limited',
        `source "${source.id}" is over its limit of ${source.rateLimit} events per second`,
        {
          'retry-after': String(rate.retryAfterSeconds),
        },
      );
    }
    let fresh: boolean[];
    try {
      fresh = await admission.admit({
        sourceId: source.id,
        webhookId: signature.webhookId,
        events: admitted.map((a) => a.record),
        bytes: request.body.length,
      });
    } catch (error) {
      if (error instanceof AdmissionUnavailableError) {
        return failure(503, 'unavailable', error.message, { 'retry-after': String(error.retryAfterSeconds) });
      }
      throw error;
    }
    admitted.forEach(({ index, record }, i) => {
      const status = fresh[i] ? 'accepted' : 'duplicate';
      results[index] = { id: record.event.id, status };
      metrics?.count(source.id, record.event.type, status);
    });
    return { status: admitted.length === results.length ? 202 : 207, body: { results } };
  }
}
