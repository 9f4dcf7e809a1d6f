import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { OpenApiContract } from '@tessera/destination-kit';

/*
 * The community Braze spec is generated from Braze's Postman collection: its request schemas are drawn from
 * one example body, while each operation's own parameter table says what Braze takes. Where the two disagree
 * on something this destination sends, the table wins, and only there: each correction below names the
 * sentence of the operation's description it rests on, and loading fails when that sentence is gone (a newer
 * spec must be read again, not silently patched). A correction states the documented shape exactly (format,
 * bounds), so it is no looser than the documentation.
 */

export interface BrazeSpecCorrection {
  method: 'post';
  path: string;
  /** The request body property whose schema is replaced. */
  property: string;
  /** The sentence of the operation's description (its parameter table) the correction rests on. */
  documentedAs: string;
  schema: Record<string, unknown>;
}

/** `email` as /email/status and /email/bounce/remove document it: one address, or an array of up to 50. */
const ONE_OR_UP_TO_50_EMAILS = {
  oneOf: [
    { type: 'string', format: 'email' },
    { type: 'array', minItems: 1, maxItems: 50, items: { type: 'string', format: 'email' } },
  ],
};

export const BRAZE_SPEC_CORRECTIONS: readonly BrazeSpecCorrection[] = [
  {
    method: 'post',
    path: '/email/status',
    property: 'email',
    documentedAs: 'String email address to modify, or an array of up to 50 email addresses to modify.',
    schema: ONE_OR_UP_TO_50_EMAILS,
  },
  {
    method: 'post',
    path: '/email/bounce/remove',
    property: 'email',
    documentedAs: 'String email address to modify, or an array of up to 50 email addresses to modify.',
    schema: ONE_OR_UP_TO_50_EMAILS,
  },
];

type Json = Record<string, unknown>;

/** The spec document of `dir` (`spec.json`) with `BRAZE_SPEC_CORRECTIONS` applied, on a copy. */
export function correctedBrazeSpec(dir: string): Json {
  const document = JSON.parse(readFileSync(join(dir, 'spec.json'), 'utf8')) as Json;
  for (const correction of BRAZE_SPEC_CORRECTIONS) {
    const operation = (document['paths'] as Record<string, Record<string, Json>> | undefined)?.[
      correction.path
    ]?.[correction.method];
    const where = `${correction.method.toUpperCase()} ${correction.path}`;
    const description = typeof operation?.['description'] === 'string' ? operation['description'] : '';
    if (!description.includes(correction.documentedAs)) {
      throw new Error(
        `The Braze spec no longer documents ${where} as "${correction.documentedAs}": review the correction`,
      );
    }
    const schema = (operation?.['requestBody'] as Json | undefined)?.['content'] as
      Record<string, { schema?: { properties?: Json } }> | undefined;
    const properties = schema?.['application/json']?.schema?.properties;
    if (properties === undefined || properties[correction.property] === undefined) {
      throw new Error(`The Braze spec has no body property '${correction.property}' in ${where}`);
    }
    properties[correction.property] = correction.schema;
  }
  return document;
}

/** The contract every request of the destination is validated against: the spec, as its own tables correct it. */
export function brazeContract(dir: string): OpenApiContract {
  return OpenApiContract.fromDocuments([correctedBrazeSpec(dir)]);
}
