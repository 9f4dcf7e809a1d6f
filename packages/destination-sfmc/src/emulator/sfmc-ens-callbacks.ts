import { randomUUID } from 'node:crypto';
import type { InboundRequest, SandboxResponse } from '@tessera/destination-kit';
import {
  ENS_SIGNATURE_HEADER,
  ENS_UNSUBSCRIBE_EVENT,
  type EnsEvent,
  ensSignature,
} from '../inbound/ens-notification';
import { isRecord, JSON_HEADERS, parseJson, restError } from './sfmc-responses';

/*
 * The emulator's Event Notification Service: callbacks registered by tests (what `POST
 * /platform/v1/ens-callbacks` does), the verification post ENS sends to a new callback, `ens-verify`, and
 * signed EmailUnsubscribe notifications.
 */

export interface SfmcEnsCallback {
  callbackId: string;
  callbackName: string;
  url: string;
  signatureKey: string;
  verificationKey: string;
  verified: boolean;
}

export class EnsCallbacks {
  private callbacks = new Map<string, SfmcEnsCallback>();
  private nextJobId = 1;

  create(url: string, callbackName: string): SfmcEnsCallback {
    const callback: SfmcEnsCallback = {
      callbackId: randomUUID(),
      callbackName,
      url,
      signatureKey: Buffer.from(randomUUID().replace(/-/g, ''), 'hex').toString('base64'),
      verificationKey: randomUUID(),
      verified: false,
    };
    this.callbacks.set(callback.callbackId, callback);
    return { ...callback };
  }

  list(): { callbackId: string; url: string; verified: boolean }[] {
    return [...this.callbacks.values()].map(({ callbackId, url, verified }) => ({
      callbackId,
      url,
      verified,
    }));
  }

  clear(): void {
    this.callbacks = new Map();
    this.nextJobId = 1;
  }

  /** The verification post ENS sends to a newly registered callback. */
  verificationRequest(callbackId: string): InboundRequest {
    const callback = this.get(callbackId);
    return {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      rawBody: Buffer.from(JSON.stringify({ callbackId, verificationKey: callback.verificationKey })),
    };
  }

  /** The signed notification of an email unsubscribe, for `callbackId` (default: the first callback). */
  unsubscribeNotification(input: {
    subscriberKey: string;
    email: string;
    callbackId?: string;
    atMs?: number;
  }): InboundRequest & { event: EnsEvent } {
    const callback = this.get(input.callbackId ?? [...this.callbacks.keys()][0] ?? '');
    const jobId = String(this.nextJobId++);
    const event: EnsEvent = {
      eventCategoryType: ENS_UNSUBSCRIBE_EVENT,
      timestampUTC: input.atMs ?? Date.now(),
      compositeId: `${jobId}.1.${input.subscriberKey}.${ENS_UNSUBSCRIBE_EVENT}`,
      composite: { jobId, batchId: '1', listId: '1' },
      mid: 100000001,
      eid: 100000001,
      info: { subscriberKey: input.subscriberKey, emailAddress: input.email },
    };
    const rawBody = Buffer.from(JSON.stringify([event]));
    return {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        [ENS_SIGNATURE_HEADER]: ensSignature(callback.signatureKey, rawBody),
      },
      rawBody,
      event,
    };
  }

  /** `POST /platform/v1/ens-verify`: confirms a callback with the verification key ENS posted to it. */
  verify(rawBody: Buffer): SandboxResponse {
    const body = parseJson(rawBody);
    const callbackId = isRecord(body) ? body['callbackId'] : undefined;
    const verificationKey = isRecord(body) ? body['verificationKey'] : undefined;
    const callback = typeof callbackId === 'string' ? this.callbacks.get(callbackId) : undefined;
    if (callback === undefined || callback.verificationKey !== verificationKey) {
      return restError(400, 'Invalid callbackId or verificationKey', 10001);
    }
    callback.verified = true;
    return {
      status: 200,
      headers: JSON_HEADERS,
      body: { callbackId: callback.callbackId, callbackName: callback.callbackName, url: callback.url },
    };
  }

  private get(callbackId: string): SfmcEnsCallback {
    const callback = this.callbacks.get(callbackId);
    if (callback === undefined) throw new Error(`No ENS callback ${callbackId}: call createCallback first`);
    return callback;
  }
}
