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

const location = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: {
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
};

const profileAttributes = {
  type: 'object',
  additionalProperties: false,
  properties: {
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
  },
};

const profileMeta = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: {
    patch_properties: {
      type: ['object', 'null'],
      additionalProperties: false,
      properties: {
        append: { type: ['object', 'null'] },
        unappend: { type: ['object', 'null'] },
        unset: {
          anyOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }, { type: 'null' }],
        },
      },
    },
    patch_identifiers: {
      type: ['object', 'null'],
      additionalProperties: false,
      properties: { append: { type: 'object' }, unappend: { type: 'object' } },
    },
  },
};

/** One profile resource as profile-import and the bulk import take it. */
const profileUpsertResource = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'attributes'],
  properties: {
    type: { const: 'profile' },
    id: nullableString,
    attributes: profileAttributes,
    meta: profileMeta,
  },
};

const listIdentifier = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'id'],
  properties: { type: { const: 'list' }, id: { type: 'string' } },
};

const profileIdentifier = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'id'],
  properties: { type: { const: 'profile' }, id: { type: 'string' } },
};

function document(data: SchemaObject): SchemaObject {
  return { type: 'object', additionalProperties: false, required: ['data'], properties: { data } };
}

export const profileImportSchema = document(profileUpsertResource);

export const profileUpdateSchema = document({
  ...profileUpsertResource,
  required: ['type', 'id', 'attributes'],
  properties: { ...profileUpsertResource.properties, id: { type: 'string' } },
});

export const bulkImportSchema = document({
  type: 'object',
  additionalProperties: false,
  required: ['type', 'attributes'],
  properties: {
    type: { const: 'profile-bulk-import-job' },
    attributes: {
      type: 'object',
      additionalProperties: false,
      required: ['profiles'],
      properties: {
        profiles: {
          type: 'object',
          additionalProperties: false,
          required: ['data'],
          properties: { data: { type: 'array', items: profileUpsertResource } },
        },
      },
    },
    relationships: {
      type: 'object',
      additionalProperties: false,
      properties: {
        lists: {
          type: 'object',
          additionalProperties: false,
          properties: { data: { type: 'array', items: listIdentifier } },
        },
      },
    },
  },
});

export const listCreateSchema = document({
  type: 'object',
  additionalProperties: false,
  required: ['type', 'attributes'],
  properties: {
    type: { const: 'list' },
    attributes: {
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      properties: {
        name: { type: 'string', minLength: 1 },
        opt_in_process: { enum: ['double_opt_in', 'single_opt_in', null] },
      },
    },
  },
});

export const listMembersSchema = document({ type: 'array', items: profileIdentifier });

/** `relationships.list` of the subscription and suppression jobs (a single list, not an array). */
const singleList = {
  type: 'object',
  additionalProperties: false,
  properties: {
    list: { type: 'object', additionalProperties: false, properties: { data: listIdentifier } },
  },
};

const consentSubscribed = {
  type: ['object', 'null'],
  additionalProperties: false,
  required: ['consent'],
  properties: {
    consent: { const: 'SUBSCRIBED' },
    consented_at: { type: ['string', 'null'], format: 'date-time' },
  },
};

const consentUnsubscribed = {
  type: ['object', 'null'],
  additionalProperties: false,
  required: ['consent'],
  properties: { consent: { const: 'UNSUBSCRIBED' } },
};

const pushTokenEntry = { type: 'object' };

function channels(
  value: 'SUBSCRIBED' | 'UNSUBSCRIBED',
  consent: SchemaObject,
  push: SchemaObject,
): SchemaObject {
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      email: {
        type: ['object', 'null'],
        additionalProperties: false,
        properties: {
          marketing: consent,
          open_tracking: {
            type: ['object', 'null'],
            additionalProperties: false,
            required: ['consent'],
            properties: { consent: { const: value } },
          },
        },
      },
      sms: {
        type: ['object', 'null'],
        additionalProperties: false,
        properties: { marketing: consent, transactional: consent },
      },
      whatsapp: {
        type: ['object', 'null'],
        additionalProperties: false,
        properties: { marketing: consent, transactional: consent },
      },
      push,
    },
  };
}

export const subscribeSchema = document({
  type: 'object',
  additionalProperties: false,
  required: ['type', 'attributes'],
  properties: {
    type: { const: 'profile-subscription-bulk-create-job' },
    attributes: {
      type: 'object',
      additionalProperties: false,
      required: ['profiles'],
      properties: {
        custom_source: nullableString,
        historical_import: { type: ['boolean', 'null'] },
        profiles: {
          type: 'object',
          additionalProperties: false,
          required: ['data'],
          properties: {
            data: {
              type: 'array',
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['type', 'attributes'],
                properties: {
                  type: { const: 'profile' },
                  id: nullableString,
                  attributes: {
                    type: 'object',
                    additionalProperties: false,
                    required: ['subscriptions'],
                    properties: {
                      email: nullableString,
                      phone_number: nullableString,
                      age_gated_date_of_birth: { type: ['string', 'null'], format: 'date' },
                      subscriptions: channels('SUBSCRIBED', consentSubscribed, {
                        type: ['object', 'null'],
                        additionalProperties: false,
                        required: ['marketing'],
                        properties: {
                          marketing: { ...consentSubscribed, type: 'object' },
                          tokens: { type: ['array', 'null'], items: pushTokenEntry },
                          anonymous_id: nullableString,
                        },
                      }),
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
    relationships: singleList,
  },
});

export const unsubscribeSchema = document({
  type: 'object',
  additionalProperties: false,
  required: ['type', 'attributes'],
  properties: {
    type: { const: 'profile-subscription-bulk-delete-job' },
    attributes: {
      type: 'object',
      additionalProperties: false,
      required: ['profiles'],
      properties: {
        profiles: {
          type: 'object',
          additionalProperties: false,
          required: ['data'],
          properties: {
            data: {
              type: 'array',
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['type', 'attributes'],
                properties: {
                  type: { const: 'profile' },
                  attributes: {
                    type: 'object',
                    additionalProperties: false,
                    required: ['subscriptions'],
                    properties: {
                      email: nullableString,
                      phone_number: nullableString,
                      subscriptions: channels('UNSUBSCRIBED', consentUnsubscribed, {
                        type: ['object', 'null'],
                        additionalProperties: false,
                        required: ['marketing', 'tokens'],
                        properties: {
                          marketing: { ...consentUnsubscribed, type: 'object' },
                          tokens: { type: 'array', items: pushTokenEntry },
                        },
                      }),
                    },
                  },
                },
              },
            },
          },
        },
      },
    },
    relationships: singleList,
  },
});

function suppressionSchema(type: string): SchemaObject {
  return document({
    type: 'object',
    additionalProperties: false,
    required: ['type', 'attributes'],
    properties: {
      type: { const: type },
      attributes: {
        type: 'object',
        additionalProperties: false,
        properties: {
          profiles: {
            type: ['object', 'null'],
            additionalProperties: false,
            required: ['data'],
            properties: {
              data: {
                type: 'array',
                items: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['type', 'attributes'],
                  properties: {
                    type: { const: 'profile' },
                    attributes: {
                      type: 'object',
                      additionalProperties: false,
                      required: ['email'],
                      properties: { email: { type: 'string' } },
                    },
                  },
                },
              },
            },
          },
        },
      },
      relationships: {
        type: 'object',
        additionalProperties: false,
        properties: {
          ...singleList.properties,
          segment: {
            type: 'object',
            additionalProperties: false,
            properties: {
              data: {
                type: 'object',
                additionalProperties: false,
                required: ['type', 'id'],
                properties: { type: { const: 'segment' }, id: { type: 'string' } },
              },
            },
          },
        },
      },
    },
  });
}

export const suppressSchema = suppressionSchema('profile-suppression-bulk-create-job');
export const unsuppressSchema = suppressionSchema('profile-suppression-bulk-delete-job');

export const deletionSchema = document({
  type: 'object',
  additionalProperties: false,
  required: ['type', 'attributes'],
  properties: {
    type: { const: 'data-privacy-deletion-job' },
    attributes: {
      type: 'object',
      additionalProperties: false,
      required: ['profile'],
      properties: {
        profile: {
          type: 'object',
          additionalProperties: false,
          required: ['data'],
          properties: {
            data: {
              type: 'object',
              additionalProperties: false,
              required: ['type', 'attributes'],
              properties: {
                type: { const: 'profile' },
                id: nullableString,
                attributes: {
                  type: 'object',
                  additionalProperties: false,
                  properties: { email: nullableString, phone_number: nullableString },
                },
              },
            },
          },
        },
      },
    },
  },
});

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
