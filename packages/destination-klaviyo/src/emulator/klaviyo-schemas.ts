import Ajv, { type ErrorObject, type SchemaObject } from 'ajv';
import addFormats from 'ajv-formats';
import { KlaviyoApiError } from './klaviyo-errors';

/*
 * Compact request-body schemas for the operations the emulator serves, written from Klaviyo's OpenAPI documents
 * (revision 2026-07-15). Klaviyo is JSON:API-strict, so unknown members of `data` and `attributes` are rejected
 * (`additionalProperties: false`) where the published schema lists them. Semantic checks (email and phone format,
 * "at least one identifier", list sizes with Klaviyo's own wording) live in the emulator, not here.
 */

const nullableString = { type: ['string', 'null'] };
const stringOrNumber = { anyOf: [{ type: 'string' }, { type: 'number' }, { type: 'null' }] };

/** A closed object (JSON:API is strict: unknown members are refused), optionally nullable. */
function closed(
  properties: Record<string, SchemaObject>,
  required: string[] = [],
  nullable = false,
): SchemaObject {
  return {
    type: nullable ? ['object', 'null'] : 'object',
    additionalProperties: false,
    ...(required.length > 0 ? { required } : {}),
    properties,
  };
}

/** A JSON:API resource object of `type` with the given attributes (and extra members, e.g. relationships). */
function resource(
  type: string,
  attributes: SchemaObject,
  extra: Record<string, SchemaObject> = {},
  required = ['type', 'attributes'],
): SchemaObject {
  return closed({ type: { const: type }, attributes, ...extra }, required);
}

/** `{ data: [items] }`, as the job payloads nest their profiles. */
const collection = (items: SchemaObject, nullable = false): SchemaObject =>
  closed({ data: { type: 'array', items } }, ['data'], nullable);

/** `{ data: { type, id } }`: a to-one relationship. */
const toOne = (type: string): SchemaObject =>
  closed({ data: closed({ type: { const: type }, id: { type: 'string' } }, ['type', 'id']) });

/** The request body: the document's primary `data`. */
function document(data: SchemaObject): SchemaObject {
  return closed({ data }, ['data']);
}

const location = closed(
  {
    address1: nullableString,
    address2: nullableString,
    city: nullableString,
    country: nullableString,
    latitude: stringOrNumber,
    longitude: stringOrNumber,
    region: nullableString,
    zip: nullableString,
    timezone: nullableString,
    ip: nullableString,
  },
  [],
  true,
);

const profileAttributes = closed({
  email: nullableString,
  phone_number: nullableString,
  external_id: nullableString,
  _kx: nullableString,
  first_name: nullableString,
  last_name: nullableString,
  organization: nullableString,
  locale: nullableString,
  title: nullableString,
  image: nullableString,
  location,
  properties: { type: ['object', 'null'] },
});

const profileMeta = closed(
  {
    patch_properties: closed(
      {
        append: { type: ['object', 'null'] },
        unappend: { type: ['object', 'null'] },
        unset: {
          anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }, { type: 'null' }],
        },
      },
      [],
      true,
    ),
    patch_identifiers: closed({ append: { type: 'object' }, unappend: { type: 'object' } }, [], true),
  },
  [],
  true,
);

/** One profile resource as profile-import and the bulk import take it. */
const profileUpsertResource = resource('profile', profileAttributes, {
  id: nullableString,
  meta: profileMeta,
});

const listIdentifier = closed({ type: { const: 'list' }, id: { type: 'string' } }, ['type', 'id']);
const profileIdentifier = closed({ type: { const: 'profile' }, id: { type: 'string' } }, ['type', 'id']);

export const profileImportSchema = document(profileUpsertResource);

export const profileUpdateSchema = document({
  ...profileUpsertResource,
  required: ['type', 'id', 'attributes'],
  properties: { ...profileUpsertResource['properties'], id: { type: 'string' } },
});

export const bulkImportSchema = document(
  resource('profile-bulk-import-job', closed({ profiles: collection(profileUpsertResource) }, ['profiles']), {
    relationships: closed({ lists: closed({ data: { type: 'array', items: listIdentifier } }) }),
  }),
);

export const listCreateSchema = document(
  resource(
    'list',
    closed(
      {
        name: { type: 'string', minLength: 1 },
        opt_in_process: { enum: ['double_opt_in', 'single_opt_in', null] },
      },
      ['name'],
    ),
  ),
);

export const listMembersSchema = document({ type: 'array', items: profileIdentifier });

/** `relationships.list` of the subscription and suppression jobs (a single list, not an array). */
const singleList = closed({ list: toOne('list') });

const consentIs = (value: 'SUBSCRIBED' | 'UNSUBSCRIBED', extra: Record<string, SchemaObject> = {}) =>
  closed({ consent: { const: value }, ...extra }, ['consent'], true);
const consentSubscribed = consentIs('SUBSCRIBED', {
  consented_at: { type: ['string', 'null'], format: 'date-time' },
});
const consentUnsubscribed = consentIs('UNSUBSCRIBED');

const pushTokenEntry = { type: 'object' };

/** The `subscriptions` member: every channel's consent set to `value`. */
function channels(
  value: 'SUBSCRIBED' | 'UNSUBSCRIBED',
  consent: SchemaObject,
  push: SchemaObject,
): SchemaObject {
  const pair = closed({ marketing: consent, transactional: consent }, [], true);
  return closed({
    email: closed({ marketing: consent, open_tracking: consentIs(value) }, [], true),
    sms: pair,
    whatsapp: pair,
    push,
  });
}

/** A subscription job: its profiles (email or phone, and `subscriptions`) and an optional list. */
function subscriptionJob(
  type: string,
  profileExtra: Record<string, SchemaObject>,
  jobExtra: Record<string, SchemaObject>,
  subscriptions: SchemaObject,
): SchemaObject {
  const profile = resource(
    'profile',
    closed({ email: nullableString, phone_number: nullableString, ...profileExtra, subscriptions }, [
      'subscriptions',
    ]),
    type.endsWith('create-job') ? { id: nullableString } : {},
  );
  return document(
    resource(type, closed({ ...jobExtra, profiles: collection(profile) }, ['profiles']), {
      relationships: singleList,
    }),
  );
}

export const subscribeSchema = subscriptionJob(
  'profile-subscription-bulk-create-job',
  { age_gated_date_of_birth: { type: ['string', 'null'], format: 'date' } },
  { custom_source: nullableString, historical_import: { type: ['boolean', 'null'] } },
  channels(
    'SUBSCRIBED',
    consentSubscribed,
    closed(
      {
        marketing: { ...consentSubscribed, type: 'object' },
        tokens: { type: ['array', 'null'], items: pushTokenEntry },
        anonymous_id: nullableString,
      },
      ['marketing'],
      true,
    ),
  ),
);

export const unsubscribeSchema = subscriptionJob(
  'profile-subscription-bulk-delete-job',
  {},
  {},
  channels(
    'UNSUBSCRIBED',
    consentUnsubscribed,
    closed(
      {
        marketing: { ...consentUnsubscribed, type: 'object' },
        tokens: { type: 'array', items: pushTokenEntry },
      },
      ['marketing', 'tokens'],
      true,
    ),
  ),
);

function suppressionSchema(type: string): SchemaObject {
  const profile = resource('profile', closed({ email: { type: 'string' } }, ['email']));
  return document(
    resource(type, closed({ profiles: collection(profile, true) }), {
      relationships: closed({ list: toOne('list'), segment: toOne('segment') }),
    }),
  );
}

export const suppressSchema = suppressionSchema('profile-suppression-bulk-create-job');
export const unsuppressSchema = suppressionSchema('profile-suppression-bulk-delete-job');

export const deletionSchema = document(
  resource(
    'data-privacy-deletion-job',
    closed(
      {
        profile: closed(
          {
            data: resource('profile', closed({ email: nullableString, phone_number: nullableString }), {
              id: nullableString,
            }),
          },
          ['data'],
        ),
      },
      ['profile'],
    ),
  ),
);

/** POST /api/profile-merge: the destination profile's id, and exactly one source profile (Klaviyo's limit). */
export const profileMergeSchema = document(
  closed(
    {
      type: { const: 'profile-merge' },
      id: { type: 'string', minLength: 1 },
      relationships: closed(
        {
          profiles: closed({ data: { type: 'array', items: profileIdentifier, minItems: 1, maxItems: 1 } }, [
            'data',
          ]),
        },
        ['profiles'],
      ),
    },
    ['type', 'id', 'relationships'],
  ),
);

const ajv = new Ajv({ allErrors: false, strict: true, allowUnionTypes: true });
addFormats(ajv);

function describe(error: ErrorObject): { pointer: string; detail: string } {
  const params: Record<string, unknown> = error.params;
  if (typeof params['missingProperty'] === 'string') {
    return {
      pointer: `${error.instancePath}/${params['missingProperty']}`,
      detail: `'${params['missingProperty']}' is a required field.`,
    };
  }
  if (typeof params['additionalProperty'] === 'string') {
    return {
      pointer: `${error.instancePath}/${params['additionalProperty']}`,
      detail: `'${params['additionalProperty']}' is not a valid field for this resource.`,
    };
  }
  if (error.keyword === 'const') {
    return {
      pointer: error.instancePath,
      detail: `Invalid value. Expected ${JSON.stringify(params['allowedValue'])}.`,
    };
  }
  const field = error.instancePath.split('/').pop() ?? '';
  return {
    pointer: error.instancePath,
    detail: `${field === '' ? 'The body' : `'${field}'`} ${error.message ?? 'is invalid'}.`,
  };
}

/**
 * Compiles a schema into a checker that narrows the body to `T` or throws Klaviyo's 400 `invalid` error
 * pointing at the first offending member.
 */
export function bodyChecker<T>(schema: SchemaObject): (body: unknown) => T {
  const validate = ajv.compile<T>(schema);
  return (body: unknown): T => {
    if (validate(body)) return body;
    const first = validate.errors?.[0];
    const { pointer, detail } =
      first === undefined ? { pointer: '', detail: 'Invalid input.' } : describe(first);
    throw new KlaviyoApiError(400, detail, { pointer: pointer === '' ? '/' : pointer });
  };
}
