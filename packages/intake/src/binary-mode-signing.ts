import { cloudEventHeaders } from './request-body';

/**
 * The first line of the content a binary-mode signature covers. It names the form, so that a later form can
 * be told apart from this one (and accepted beside it during a migration) without guessing.
 */
export const BINARY_MODE_SIGNING_FORM = 'tessera-cloudevents-binary-v1';

type Headers = Record<string, string | string[] | undefined>;

/**
 * What a binary-mode request's Standard Webhooks signature covers (docs/ingest.md, "Signing binary mode"): in
 * binary mode the event's attributes travel in `ce-*` headers, outside the body, so a signature over the body
 * alone would let anyone who captured a request change its type, id or source. The signed content is
 *
 *     tessera-cloudevents-binary-v1\n
 *     <name>:<value>\n      for Content-Type and every ce-* header, names lower-case, sorted by name,
 *     \n                    values as sent (still percent-encoded)
 *     <the raw body>
 *
 * HTTP forbids line breaks in header values and colons in names, so every request has exactly one form.
 */
export function binaryModeSignedContent(headers: Headers, body: Buffer): Buffer {
  const lines = [BINARY_MODE_SIGNING_FORM];
  const contentType = headers['content-type'];
  const covered = cloudEventHeaders(headers);
  if (contentType !== undefined) {
    covered.push(['content-type', Array.isArray(contentType) ? contentType[0] : contentType]);
  }
  // 'content-type' sorts after every 'ce-…' name ('e' < 'o'), so appending it keeps the order.
  for (const [name, value] of covered) lines.push(`${name}:${value}`);
  return Buffer.concat([Buffer.from(`${lines.join('\n')}\n\n`), body]);
}
