import { randomUUID } from 'node:crypto';
import { Webhook } from 'standardwebhooks';

export interface SigningOptions {
  webhookId?: string;
  /** Signing time; default now. */
  at?: Date;
}

/** Standard Webhooks headers for a body, as a sender would compute them. */
export function signedHeaders(
  secret: string,
  body: string | Buffer,
  options: SigningOptions = {},
): Record<string, string> {
  const webhookId = options.webhookId ?? `msg_${randomUUID()}`;
  const at = options.at ?? new Date();
  return {
    'webhook-id': webhookId,
    'webhook-timestamp': String(Math.floor(at.getTime() / 1000)),
    'webhook-signature': new Webhook(secret).sign(webhookId, at, body.toString()),
  };
}
