import { createHash } from 'node:crypto';
import {
  DeliveryError,
  type DestinationRunner,
  type InboundReply,
  type InboundRequest,
  type InboundUnsubscribe,
} from '@tessera/destination-kit';

/** What the intake answers an ESP's webhook call with (always JSON unless a handshake says otherwise). */
export interface InboundResponse {
  status: number;
  headers?: Record<string, string>;
  body: string;
}

export interface InboundReceiverOptions {
  /** The runner of each destination this deployment runs (settings validated). */
  runnerOf(
    destinationId: string,
  ):
    Pick<DestinationRunner, 'definition' | 'answerInboundHandshake' | 'parseInboundUnsubscribes'> | undefined;
  /** Queues the verified opt-outs for the worker; idempotent for the same changes (deterministic job id). */
  enqueue(destinationId: string, changes: InboundUnsubscribe[], jobId: string): Promise<void>;
}

const json = (status: number, body: unknown): InboundResponse => ({
  status,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify(body),
});

/**
 * `POST|GET /v1/inbound/{destinationId}`: an ESP's webhook. A set-up handshake is answered as the ESP expects
 * (Mailchimp's GET, SFMC's verification key); a notification is verified on its raw bytes (401 when the
 * signature or URL secret is wrong, 400 when it is malformed), and its opt-outs are queued durably before the
 * 202, so an ESP that gets 2xx never has to send them again.
 */
export class InboundReceiver {
  constructor(private readonly options: InboundReceiverOptions) {}

  async receive(destinationId: string, request: InboundRequest): Promise<InboundResponse> {
    const runner = this.options.runnerOf(destinationId);
    if (runner === undefined) return json(404, { error: `Unknown destination "${destinationId}"` });
    let handshake: InboundReply | undefined;
    try {
      handshake = await runner.answerInboundHandshake(request);
    } catch (error) {
      // The verification call back to the ESP failed: say so, so that its set-up can be retried.
      if (error instanceof DeliveryError)
        return json(502, { error: `verification failed: ${error.message}` });
      throw error;
    }
    if (handshake !== undefined) {
      return { status: handshake.status, headers: handshake.headers ?? {}, body: handshake.body ?? '' };
    }
    if (runner.definition.parseInboundUnsubscribes === undefined) {
      return json(405, {
        error: `Destination "${destinationId}" (${runner.definition.name}) sends no webhooks: its opt-outs are polled`,
      });
    }
    if ((request.method ?? 'POST') !== 'POST')
      return json(405, { error: 'Webhook notifications are POSTed' });
    let changes: InboundUnsubscribe[];
    try {
      changes = runner.parseInboundUnsubscribes(request);
    } catch (error) {
      if (error instanceof DeliveryError && error.kind === 'auth') return json(401, { error: error.message });
      if (error instanceof DeliveryError) return json(400, { error: error.message });
      throw error;
    }
    if (changes.length > 0) {
      const jobId = `inbound-${createHash('sha256')
        .update([destinationId, ...changes.map((change) => change.eventId).sort()].join('\n'))
        .digest('hex')
        .slice(0, 32)}`;
      await this.options.enqueue(destinationId, changes, jobId);
    }
    return json(202, { accepted: changes.length });
  }
}
