import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { SIGNATURE_TOLERANCE_SECONDS, WebhookSignatureVerifier } from './webhook-signature';

const NOW = 1_793_527_200; // 2026-11-01T10:00:00Z
const MISMATCH = 'webhook-signature does not match the body for any of this source’s secrets';
const TOO_FAR = 'webhook-timestamp is more than 5 minutes away from the current time';

const newSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

const body = Buffer.from('{"event":"points_earned","meta":{"request_id":"req-1"}}');

function signedHeaders(
  secret: string,
  payload: Buffer | string = body,
  seconds: number = NOW,
  id = 'msg_1',
): Record<string, string> {
  return {
    'webhook-id': id,
    'webhook-timestamp': String(seconds),
    'webhook-signature': new Webhook(secret).sign(id, new Date(seconds * 1000), payload),
  };
}

describe('WebhookSignatureVerifier', () => {
  const secret = newSecret();
  const verifier = new WebhookSignatureVerifier(() => NOW);

  it('accepts a good signature and returns the webhook id', () => {
    expect(verifier.verify([secret], signedHeaders(secret), body)).toEqual({ ok: true, webhookId: 'msg_1' });
  });

  it('takes the first value when a header arrives as an array', () => {
    const headers = signedHeaders(secret);
    const check = verifier.verify(
      [secret],
      { ...headers, 'webhook-signature': [headers['webhook-signature'], 'v1,other'] },
      body,
    );
    expect(check).toEqual({ ok: true, webhookId: 'msg_1' });
  });

  it('rejects a body with one byte changed', () => {
    const tampered = Buffer.from(body);
    tampered[10] ^= 1;
    expect(verifier.verify([secret], signedHeaders(secret), tampered)).toEqual({
      ok: false,
      message: MISMATCH,
    });
  });

  it('rejects a body signed with another secret', () => {
    expect(verifier.verify([secret], signedHeaders(newSecret()), body)).toEqual({
      ok: false,
      message: MISMATCH,
    });
  });

  it('rejects a signature made for another webhook id', () => {
    const headers = { ...signedHeaders(secret), 'webhook-id': 'msg_2' };
    expect(verifier.verify([secret], headers, body)).toEqual({ ok: false, message: MISMATCH });
  });

  it('checks the raw bytes: the same JSON with different whitespace is rejected', () => {
    const reformatted = Buffer.from(JSON.stringify(JSON.parse(body.toString()), null, 2));
    expect(verifier.verify([secret], signedHeaders(secret), reformatted)).toEqual({
      ok: false,
      message: MISMATCH,
    });
  });

  describe('timestamp tolerance', () => {
    it.each([
      ['exactly 300 s old', NOW - 300],
      ['exactly 300 s ahead', NOW + 300],
    ])('accepts a signature %s', (_name, seconds) => {
      expect(SIGNATURE_TOLERANCE_SECONDS).toBe(300);
      expect(verifier.verify([secret], signedHeaders(secret, body, seconds), body)).toEqual({
        ok: true,
        webhookId: 'msg_1',
      });
    });

    it.each([
      ['301 s old', NOW - 301],
      ['301 s in the future', NOW + 301],
    ])('rejects a correctly signed body %s', (_name, seconds) => {
      expect(verifier.verify([secret], signedHeaders(secret, body, seconds), body)).toEqual({
        ok: false,
        message: TOO_FAR,
      });
    });

    it.each([['yesterday'], ['1793527200.5'], ['-1793527200'], ['1793527200000000']])(
      'rejects the non-numeric timestamp %s',
      (timestamp) => {
        const headers = { ...signedHeaders(secret), 'webhook-timestamp': timestamp };
        expect(verifier.verify([secret], headers, body)).toEqual({
          ok: false,
          message: 'webhook-timestamp must be the signing time in Unix seconds',
        });
      },
    );
  });

  describe('missing headers', () => {
    const all = ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;
    const combinations = [
      ['webhook-id'],
      ['webhook-timestamp'],
      ['webhook-signature'],
      ['webhook-id', 'webhook-timestamp'],
      ['webhook-id', 'webhook-signature'],
      ['webhook-timestamp', 'webhook-signature'],
      ['webhook-id', 'webhook-timestamp', 'webhook-signature'],
    ];

    it.each(combinations.map((missing) => [missing.join(', '), missing]))('reports %s', (names, missing) => {
      const headers: Record<string, string> = signedHeaders(secret);
      for (const name of missing) delete headers[name];
      expect(verifier.verify([secret], headers, body)).toEqual({
        ok: false,
        message: `missing ${names} header (Standard Webhooks signature)`,
      });
    });

    it('treats an empty header as missing', () => {
      const headers = { ...signedHeaders(secret), 'webhook-id': '', 'webhook-signature': '' };
      expect(verifier.verify([secret], headers, body)).toEqual({
        ok: false,
        message: 'missing webhook-id, webhook-signature header (Standard Webhooks signature)',
      });
    });

    it('reads lower-case keys only', () => {
      const headers = signedHeaders(secret);
      const upper = Object.fromEntries(all.map((name) => [name.toUpperCase(), headers[name]]));
      expect(verifier.verify([secret], upper, body)).toEqual({
        ok: false,
        message:
          'missing webhook-id, webhook-timestamp, webhook-signature header (Standard Webhooks signature)',
      });
    });
  });

  describe('secret rotation and several signatures', () => {
    const previous = newSecret();
    const next = newSecret();

    it.each([
      ['the previous secret', previous],
      ['the next secret', next],
    ])('accepts a body signed with %s while both are configured', (_name, signer) => {
      expect(verifier.verify([previous, next], signedHeaders(signer), body)).toEqual({
        ok: true,
        webhookId: 'msg_1',
      });
    });

    it('rejects a body signed with neither configured secret', () => {
      expect(verifier.verify([previous, next], signedHeaders(newSecret()), body)).toEqual({
        ok: false,
        message: MISMATCH,
      });
    });

    it('accepts a header with several space-separated signatures when one of them matches', () => {
      const good = signedHeaders(secret)['webhook-signature'];
      const bad = signedHeaders(newSecret())['webhook-signature'];
      const headers = { ...signedHeaders(secret), 'webhook-signature': `${bad} ${good}` };
      expect(verifier.verify([secret], headers, body)).toEqual({ ok: true, webhookId: 'msg_1' });
    });

    it('ignores signatures that are not v1', () => {
      const good = signedHeaders(secret)['webhook-signature'];
      const headers = { ...signedHeaders(secret), 'webhook-signature': `v2,${good.slice(3)}` };
      expect(verifier.verify([secret], headers, body)).toEqual({ ok: false, message: MISMATCH });
    });

    it('rejects everything when the source has no secrets', () => {
      expect(verifier.verify([], signedHeaders(secret), body)).toEqual({ ok: false, message: MISMATCH });
    });
  });

  it('uses the injected clock', () => {
    let now = NOW;
    const clocked = new WebhookSignatureVerifier(() => now);
    const headers = signedHeaders(secret);
    expect(clocked.verify([secret], headers, body).ok).toBe(true);
    now = NOW + 301;
    expect(clocked.verify([secret], headers, body)).toEqual({ ok: false, message: TOO_FAR });
  });

  it('signs the raw bytes: bodies that differ only in invalid UTF-8 bytes are told apart', () => {
    const signedBody = Buffer.from([0x7b, 0xff, 0x7d]);
    const otherBody = Buffer.from([0x7b, 0xfe, 0x7d]);
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const signature = createHmac('sha256', key).update(`msg_raw.${NOW}.`).update(signedBody).digest('base64');
    const headers = {
      'webhook-id': 'msg_raw',
      'webhook-timestamp': String(NOW),
      'webhook-signature': `v1,${signature}`,
    };
    expect(verifier.verify([secret], headers, signedBody)).toEqual({ ok: true, webhookId: 'msg_raw' });
    expect(verifier.verify([secret], headers, otherBody)).toEqual({ ok: false, message: MISMATCH });
  });
});
