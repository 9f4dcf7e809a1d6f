import { createHmac, timingSafeEqual } from 'node:crypto';

/** Standard Webhooks: the tolerance between the sender's clock and ours. */
export const SIGNATURE_TOLERANCE_SECONDS = 5 * 60;

export type SignatureCheck = { ok: true; webhookId: string } | { ok: false; message: string };

type Headers = Record<string, string | string[] | undefined>;

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Checks a Standard Webhooks signature: `webhook-signature` holds one or more space-separated
 * `v1,<base64 HMAC-SHA256 of id.timestamp.body>`; any of the source's secrets (two during a rotation) may
 * have signed it. The HMAC runs over the raw bytes with node:crypto (the `standardwebhooks` package would
 * first decode the body as UTF-8, and hashes in JavaScript); the tests sign with that package, so the two
 * implementations are checked against each other. Comparison is constant-time; the clock is injected.
 */
export class WebhookSignatureVerifier {
  private readonly keys = new Map<string, Buffer>();

  constructor(private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000)) {}

  verify(secrets: string[], headers: Headers, rawBody: Buffer): SignatureCheck {
    const id = header(headers, 'webhook-id');
    const timestamp = header(headers, 'webhook-timestamp');
    const signature = header(headers, 'webhook-signature');
    const missing = [
      ['webhook-id', id],
      ['webhook-timestamp', timestamp],
      ['webhook-signature', signature],
    ].filter(([, value]) => value === undefined || value === '');
    if (missing.length > 0) {
      return {
        ok: false,
        message: `missing ${missing.map(([name]) => name).join(', ')} header (Standard Webhooks signature)`,
      };
    }
    if (!/^\d{1,12}$/.test(timestamp as string)) {
      return { ok: false, message: 'webhook-timestamp must be the signing time in Unix seconds' };
    }
    if (Math.abs(this.nowSeconds() - Number(timestamp)) > SIGNATURE_TOLERANCE_SECONDS) {
      return { ok: false, message: 'webhook-timestamp is more than 5 minutes away from the current time' };
    }
    const offered = (signature as string)
      .split(' ')
      .filter((entry) => entry.startsWith('v1,'))
      .map((entry) => Buffer.from(entry.slice(3)));
    for (const secret of secrets) {
      const expected = Buffer.from(
        createHmac('sha256', this.key(secret))
          .update(`${id}.${Number(timestamp)}.`)
          .update(rawBody)
          .digest('base64'),
      );
      // Every offered signature is compared: no early exit that would reveal which one matched.
      let matched = false;
      for (const candidate of offered) {
        if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true;
      }
      if (matched) return { ok: true, webhookId: id as string };
    }
    return {
      ok: false,
      message: 'webhook-signature does not match the body for any of this source’s secrets',
    };
  }

  private key(secret: string): Buffer {
    let key = this.keys.get(secret);
    if (key === undefined) {
      key = Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
      this.keys.set(secret, key);
    }
    return key;
  }
}
