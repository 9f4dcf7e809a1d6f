import { createHmac, timingSafeEqual } from 'node:crypto';
import { BINARY_MODE_SIGNING_FORM, binaryModeSignedContent } from './binary-mode-signing';
import { isBinaryMode } from './request-body';

/** Standard Webhooks: the tolerance between the sender's clock and ours. */
export const SIGNATURE_TOLERANCE_SECONDS = 5 * 60;

export type SignatureCheck = { ok: true; webhookId: string } | { ok: false; message: string };

type Headers = Record<string, string | string[] | undefined>;

/** The signature headers, once present, well-formed and timely. */
interface SignatureHeaders {
  id: string;
  timestamp: number;
  offered: Buffer[];
}

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Checks a Standard Webhooks signature: `webhook-signature` holds one or more space-separated
 * `v1,<base64 HMAC-SHA256 of id.timestamp.content>`; any of the source's secrets (two during a rotation) may
 * have signed it. The content is the raw body, or in CloudEvents binary mode a canonical form of the `ce-*`
 * headers and the body (binaryModeSignedContent). The HMAC runs over the raw bytes with node:crypto (the
 * `standardwebhooks` package would first decode the body as UTF-8, and hashes in JavaScript); the tests sign
 * with that package, so the two implementations are checked against each other. Comparison is constant-time;
 * the clock is injected.
 */
export class WebhookSignatureVerifier {
  private readonly keys = new Map<string, Buffer>();

  constructor(private readonly nowSeconds: () => number = () => Math.floor(Date.now() / 1000)) {}

  /**
   * Checks an intake request's signature over what it must cover: the raw body, or in binary mode the `ce-*`
   * headers, Content-Type and body in their canonical form, since attributes outside the signature are never
   * trusted. A binary-mode request signed over its body alone is refused, saying so.
   */
  verifyRequest(
    secrets: string[],
    request: { contentType?: string; headers: Headers; body: Buffer },
  ): SignatureCheck {
    if (!isBinaryMode(request.contentType, request.headers)) {
      return this.verify(secrets, request.headers, request.body);
    }
    const signature = this.signatureHeaders(request.headers);
    if ('message' in signature) return { ok: false, message: signature.message };
    const content = binaryModeSignedContent(request.headers, request.body);
    if (this.signedBy(secrets, signature, content)) return { ok: true, webhookId: signature.id };
    if (this.signedBy(secrets, signature, request.body)) {
      return {
        ok: false,
        message:
          'binary mode: webhook-signature covers the body alone; it must cover the ce-* headers and Content-Type ' +
          `too (sign the ${BINARY_MODE_SIGNING_FORM} form, see docs/ingest.md)`,
      };
    }
    return {
      ok: false,
      message:
        'webhook-signature does not match the ce-* headers, Content-Type and body ' +
        `(${BINARY_MODE_SIGNING_FORM}) for any of this source’s secrets`,
    };
  }

  /** Checks a Standard Webhooks signature over `signedContent`, exactly these bytes. */
  verify(secrets: string[], headers: Headers, signedContent: Buffer): SignatureCheck {
    const signature = this.signatureHeaders(headers);
    if ('message' in signature) return { ok: false, message: signature.message };
    if (this.signedBy(secrets, signature, signedContent)) return { ok: true, webhookId: signature.id };
    return {
      ok: false,
      message: 'webhook-signature does not match the body for any of this source’s secrets',
    };
  }

  private signatureHeaders(headers: Headers): SignatureHeaders | { message: string } {
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
        message: `missing ${missing.map(([name]) => name).join(', ')} header (Standard Webhooks signature)`,
      };
    }
    if (!/^\d{1,12}$/.test(timestamp as string)) {
      return { message: 'webhook-timestamp must be the signing time in Unix seconds' };
    }
    if (Math.abs(this.nowSeconds() - Number(timestamp)) > SIGNATURE_TOLERANCE_SECONDS) {
      return { message: 'webhook-timestamp is more than 5 minutes away from the current time' };
    }
    const offered = (signature as string)
      .split(' ')
      .filter((entry) => entry.startsWith('v1,'))
      .map((entry) => Buffer.from(entry.slice(3)));
    return { id: id as string, timestamp: Number(timestamp), offered };
  }

  private signedBy(secrets: string[], signature: SignatureHeaders, content: Buffer): boolean {
    for (const secret of secrets) {
      const expected = Buffer.from(
        createHmac('sha256', this.key(secret))
          .update(`${signature.id}.${signature.timestamp}.`)
          .update(content)
          .digest('base64'),
      );
      // Every offered signature is compared: no early exit that would reveal which one matched.
      let matched = false;
      for (const candidate of signature.offered) {
        if (candidate.length === expected.length && timingSafeEqual(candidate, expected)) matched = true;
      }
      if (matched) return true;
    }
    return false;
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
