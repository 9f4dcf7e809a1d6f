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

/**
 * A binary-mode CloudEvent's headers (`ce-*` and Content-Type) with the Standard Webhooks headers that sign
 * them, as docs/ingest.md tells a sender to: the content signed is `tessera-cloudevents-binary-v1`, then
 * `name:value` for Content-Type and each `ce-*` header sorted by name, an empty line, and the body. Written
 * from the docs rather than from the intake's code, so the two check each other.
 */
export function signedBinaryHeaders(
  secret: string,
  headers: Record<string, string>,
  body: string | Buffer,
  options: SigningOptions = {},
): Record<string, string> {
  const sent = Object.fromEntries(
    Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]),
  );
  const lines = Object.keys(sent)
    .filter((name) => name.startsWith('ce-') || name === 'content-type')
    .sort()
    .map((name) => `${name}:${sent[name]}`);
  const content = `tessera-cloudevents-binary-v1\n${lines.join('\n')}\n\n${body.toString()}`;
  return { ...sent, ...signedHeaders(secret, content, options) };
}
