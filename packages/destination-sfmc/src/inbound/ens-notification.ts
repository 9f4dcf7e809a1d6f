import { createHmac, timingSafeEqual } from 'node:crypto';
import {
  AuthError,
  type InboundReply,
  type InboundRequest,
  type InboundUnsubscribe,
  type OperationContext,
  ValidationError,
} from '@tessera/destination-kit';
import { SFMC_ENDPOINTS } from '../sfmc-endpoints';
import type { SfmcSettings } from '../sfmc-settings';

/*
 * Inbound opt-outs through SFMC's Event Notification Service (ENS). Shapes from Salesforce's developer docs:
 * "Notification Signing" (x-sfmc-ens-signature: base64 HMAC-SHA256 of the whole payload, keyed by the
 * callback's signature key), "Verify a Callback" (the { callbackId, verificationKey } post, confirmed with
 * POST /platform/v1/ens-verify) and "Engagement Email Events" (eventCategoryType, timestampUTC as epoch ms,
 * compositeId, mid, eid, info).
 */

export const ENS_SIGNATURE_HEADER = 'x-sfmc-ens-signature';
export const ENS_UNSUBSCRIBE_EVENT = 'EngagementEvents.EmailUnsubscribe';

/** One ENS event as the callback receives it (notifications arrive as a JSON array of these). */
export interface EnsEvent {
  eventCategoryType: string;
  timestampUTC: number;
  compositeId: string;
  composite?: { jobId?: string; batchId?: string; listId?: string };
  definitionKey?: string;
  definitionId?: string;
  mid?: number;
  eid?: number;
  info?: { subscriberKey?: string; contactKey?: string; emailAddress?: string; to?: string } & Record<
    string,
    unknown
  >;
}

/** ENS's signature of `rawBody`: base64 HMAC-SHA256 keyed by the base64-decoded signature key. */
export function ensSignature(signatureKey: string, rawBody: Buffer): string {
  return createHmac('sha256', Buffer.from(signatureKey, 'base64')).update(rawBody).digest('base64');
}

/** Verifies the signature on the raw bytes (constant time) and returns the email opt-outs the events report. */
export function parseEnsNotification(
  request: InboundRequest,
  { settings }: { settings: SfmcSettings },
): InboundUnsubscribe[] {
  const key = settings.ensSignatureKey;
  if (key === undefined)
    throw new AuthError('SFMC ENS notification refused: the destination has no ensSignatureKey');
  const signature = request.headers[ENS_SIGNATURE_HEADER];
  if (signature === undefined || signature === '') {
    throw new AuthError(`SFMC ENS notification refused: the ${ENS_SIGNATURE_HEADER} header is missing`);
  }
  const expected = Buffer.from(ensSignature(key, request.rawBody), 'base64');
  const given = Buffer.from(signature.trim(), 'base64');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new AuthError('SFMC ENS notification refused: the signature does not match the body');
  }
  let events: unknown;
  try {
    events = JSON.parse(request.rawBody.toString('utf8'));
  } catch {
    throw new ValidationError('SFMC ENS notification body is not JSON');
  }
  if (!Array.isArray(events))
    throw new ValidationError('SFMC ENS notification body is not an array of events');
  const changes: InboundUnsubscribe[] = [];
  events.forEach((event: unknown, index) => {
    if (typeof event !== 'object' || event === null) {
      throw new ValidationError(`SFMC ENS event ${index} is not an object`);
    }
    const { eventCategoryType, compositeId, timestampUTC, info } = event as Partial<EnsEvent>;
    if (eventCategoryType !== ENS_UNSUBSCRIBE_EVENT) return;
    if (typeof compositeId !== 'string' || compositeId === '') {
      throw new ValidationError(`SFMC ENS event ${index} has no compositeId`);
    }
    if (typeof timestampUTC !== 'number' || !Number.isFinite(timestampUTC)) {
      throw new ValidationError(`SFMC ENS event ${index} has no numeric timestampUTC`);
    }
    const customerId = nonEmpty(info?.subscriberKey) ?? nonEmpty(info?.contactKey);
    const email = nonEmpty(info?.emailAddress) ?? nonEmpty(info?.to);
    if (customerId === undefined && email === undefined) {
      // Dead-lettered rather than skipped: a dropped opt-out would go on being mailed.
      throw new ValidationError(`SFMC ENS event ${index} names no subscriber (info.subscriberKey or email)`);
    }
    changes.push({
      eventId: compositeId,
      channel: 'email',
      change: 'unsubscribed',
      occurredAt: new Date(timestampUTC).toISOString(),
      ...(customerId === undefined ? {} : { customerId }),
      ...(email === undefined ? {} : { email }),
    });
  });
  return changes;
}

/**
 * Answers ENS's callback verification: a `{ callbackId, verificationKey }` post is confirmed by calling
 * `POST /platform/v1/ens-verify` with the same two values, then acknowledged with 200. Anything else is a
 * notification (undefined).
 */
export async function answerEnsVerification(
  request: InboundRequest,
  { http, settings }: OperationContext<SfmcSettings>,
): Promise<InboundReply | undefined> {
  if ((request.method ?? 'POST').toUpperCase() !== 'POST') return undefined;
  let body: unknown;
  try {
    body = JSON.parse(request.rawBody.toString('utf8'));
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  const { callbackId, verificationKey } = body as Record<string, unknown>;
  if (typeof callbackId !== 'string' || typeof verificationKey !== 'string') return undefined;
  if (settings.ensCallbackId !== undefined && settings.ensCallbackId !== callbackId) {
    // A reply, not an AuthError: the runner would take an AuthError for a stale token and refresh it.
    return {
      status: 403,
      headers: { 'content-type': 'text/plain' },
      body: `ENS callback ${callbackId} is not this destination's (${settings.ensCallbackId})`,
    };
  }
  await http.post(SFMC_ENDPOINTS.ensVerify.path, { callbackId, verificationKey });
  return { status: 200 };
}

function nonEmpty(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}
