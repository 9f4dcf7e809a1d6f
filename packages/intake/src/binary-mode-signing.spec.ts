import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { BINARY_MODE_SIGNING_FORM, binaryModeSignedContent } from './binary-mode-signing';
import { WebhookSignatureVerifier } from './webhook-signature';

const NOW = 1_793_527_200; // 2026-11-01T10:00:00Z
const newSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

const body = Buffer.from('{"customer_id":"C123456","delta":120,"new_balance":1840}');
const binaryHeaders = {
  'content-type': 'application/json',
  'ce-specversion': '1.0',
  'ce-id': 'evt-1',
  'ce-source': '%2Fpos%2Fstore-9',
  'ce-type': 'points.updated',
};

/**
 * The sender's side, written from docs/ingest.md alone (not from the intake's code): the form's name, one
 * `name:value` line per ce-* header and Content-Type sorted by name, an empty line, the body; signed with the
 * standardwebhooks package like any other payload.
 */
function signBinary(
  secret: string,
  headers: Record<string, string>,
  payload: string,
  id = 'msg_1',
  seconds = NOW,
): Record<string, string> {
  const names = Object.keys(headers)
    .map((name) => name.toLowerCase())
    .filter((name) => name.startsWith('ce-') || name === 'content-type')
    .sort();
  const lines = names.map((name) => `${name}:${headers[name]}`);
  const content = `tessera-cloudevents-binary-v1\n${lines.join('\n')}\n\n${payload}`;
  return {
    ...headers,
    'webhook-id': id,
    'webhook-timestamp': String(seconds),
    'webhook-signature': new Webhook(secret).sign(id, new Date(seconds * 1000), content),
  };
}

/** Signed the way every other mode is: Standard Webhooks over the body alone. */
function signBodyOnly(secret: string, headers: Record<string, string>, payload: string, id = 'msg_1') {
  return {
    ...headers,
    'webhook-id': id,
    'webhook-timestamp': String(NOW),
    'webhook-signature': new Webhook(secret).sign(id, new Date(NOW * 1000), payload),
  };
}

const MISMATCH_BINARY =
  'webhook-signature does not match the ce-* headers, Content-Type and body ' +
  '(tessera-cloudevents-binary-v1) for any of this source’s secrets';
const BODY_ALONE =
  'binary mode: webhook-signature covers the body alone; it must cover the ce-* headers and Content-Type ' +
  'too (sign the tessera-cloudevents-binary-v1 form, see docs/ingest.md)';

describe('binaryModeSignedContent', () => {
  it('is the form name, the sorted ce-* headers and Content-Type as sent, an empty line, then the body', () => {
    const content = binaryModeSignedContent(
      { ...binaryHeaders, 'ce-time': '2026-11-01T10:00:00Z', 'webhook-id': 'msg_1', host: 'x' },
      body,
    );
    expect(BINARY_MODE_SIGNING_FORM).toBe('tessera-cloudevents-binary-v1');
    expect(content.toString()).toBe(
      [
        'tessera-cloudevents-binary-v1',
        'ce-id:evt-1',
        'ce-source:%2Fpos%2Fstore-9',
        'ce-specversion:1.0',
        'ce-time:2026-11-01T10:00:00Z',
        'ce-type:points.updated',
        'content-type:application/json',
        '',
        body.toString(),
      ].join('\n'),
    );
  });

  it('verifies the worked example of docs/ingest.md, and refuses its body-only signature', () => {
    const verifier = new WebhookSignatureVerifier(() => 1_793_527_200);
    const headers = {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': 'evt-1001',
      'ce-source': '/pos/store-9',
      'ce-type': 'points.updated',
      'ce-time': '2026-11-01T10:00:00Z',
      'webhook-id': 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W',
      'webhook-timestamp': '1793527200',
    };
    const example = Buffer.from(
      '{"customer_id":"C123456","delta":120,"new_balance":1840,"reason":"purchase"}',
    );
    const verify = (signature: string) =>
      verifier.verifyRequest(['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'], {
        contentType: 'application/json',
        headers: { ...headers, 'webhook-signature': signature },
        body: example,
      });
    expect(verify('v1,R4ISqFaDsDgtOWTqfdZqK31EQAo0s7LStfwqwGgi11o=')).toEqual({
      ok: true,
      webhookId: 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W',
    });
    expect(verify('v1,z6blz7F7S/mnNakpRBHyPqdRazu8Ed4vckpjCJVJAzg=')).toEqual({
      ok: false,
      message: BODY_ALONE,
    });
  });

  it('keeps the body as raw bytes', () => {
    const raw = Buffer.from([0x7b, 0xff, 0x7d]);
    expect(binaryModeSignedContent(binaryHeaders, raw).subarray(-3)).toEqual(raw);
  });
});

describe('WebhookSignatureVerifier.verifyRequest in binary mode', () => {
  const secret = newSecret();
  const verifier = new WebhookSignatureVerifier(() => NOW);
  const verify = (headers: Record<string, string>, payload: Buffer | string = body) =>
    verifier.verifyRequest([secret], {
      contentType: headers['content-type'],
      headers,
      body: Buffer.from(payload),
    });

  it('accepts a request signed over the documented form, as a sender computes it', () => {
    expect(verify(signBinary(secret, binaryHeaders, body.toString()))).toEqual({
      ok: true,
      webhookId: 'msg_1',
    });
  });

  it('refuses a request signed over the body alone, saying so', () => {
    expect(verify(signBodyOnly(secret, binaryHeaders, body.toString()))).toEqual({
      ok: false,
      message: BODY_ALONE,
    });
  });

  it.each([
    ['its ce-type edited', { 'ce-type': 'tier.changed' }],
    ['its ce-id edited', { 'ce-id': 'evt-2' }],
    ['its ce-source edited', { 'ce-source': '/pos/store-1' }],
    ['a ce-* extension added', { 'ce-subject': 'C999' }],
    ['its Content-Type changed', { 'content-type': 'application/vnd.example+json' }],
  ])('refuses a signed request with %s', (_name, change) => {
    const headers = { ...signBinary(secret, binaryHeaders, body.toString()), ...change };
    expect(verify(headers)).toEqual({ ok: false, message: MISMATCH_BINARY });
  });

  it('refuses a signed request with a ce-* header removed', () => {
    const { 'ce-source': _dropped, ...headers } = signBinary(secret, binaryHeaders, body.toString());
    expect(verify(headers)).toEqual({ ok: false, message: MISMATCH_BINARY });
  });

  it('refuses a signed request with its body changed', () => {
    const headers = signBinary(secret, binaryHeaders, body.toString());
    expect(verify(headers, body.toString().replace('120', '999'))).toEqual({
      ok: false,
      message: MISMATCH_BINARY,
    });
  });

  it('refuses a body-signed JSON webhook turned into binary mode by adding ce-* headers', () => {
    const plain = signBodyOnly(secret, { 'content-type': 'application/json' }, body.toString());
    expect(verify({ ...plain, 'ce-specversion': '1.0', 'ce-type': 'points.updated' })).toEqual({
      ok: false,
      message: BODY_ALONE,
    });
  });

  it('refuses a binary request turned into plain JSON by removing ce-specversion', () => {
    const { 'ce-specversion': _dropped, ...headers } = signBinary(secret, binaryHeaders, body.toString());
    expect(verify(headers)).toEqual({
      ok: false,
      message: 'webhook-signature does not match the body for any of this source’s secrets',
    });
  });

  it('checks the signature headers first, as in every mode', () => {
    const { 'webhook-signature': _dropped, ...headers } = signBinary(secret, binaryHeaders, body.toString());
    expect(verify(headers)).toEqual({
      ok: false,
      message: 'missing webhook-signature header (Standard Webhooks signature)',
    });
    expect(verify(signBinary(secret, binaryHeaders, body.toString(), 'msg_1', NOW - 301))).toEqual({
      ok: false,
      message: 'webhook-timestamp is more than 5 minutes away from the current time',
    });
  });

  it('accepts either secret during a rotation', () => {
    const next = newSecret();
    expect(
      verifier.verifyRequest([secret, next], {
        contentType: 'application/json',
        headers: signBinary(next, binaryHeaders, body.toString()),
        body,
      }),
    ).toEqual({ ok: true, webhookId: 'msg_1' });
  });

  it.each([
    ['structured', 'application/cloudevents+json'],
    ['batch', 'application/cloudevents-batch+json'],
  ])('signs the body alone in %s mode, where stray ce-* headers are ignored', (_name, contentType) => {
    const headers = signBodyOnly(secret, { ...binaryHeaders, 'content-type': contentType }, body.toString());
    expect(verify(headers)).toEqual({ ok: true, webhookId: 'msg_1' });
  });
});
