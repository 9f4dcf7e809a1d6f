import { BRAND_SCHEMA, SOURCE_SCHEMA } from '@tessera/runtime';
import type { JsonSchema } from './console-endpoint.decorator';

// Inputs the console accepts. The workspace's own parts reuse the workspace file's schemas, so the file and the
// API accept exactly the same brands and sources.

const SLUG = { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,62}$' };
const REASON = { type: 'string', minLength: 1, maxLength: 500 };

export const BRAND_INPUT: JsonSchema = BRAND_SCHEMA;

export const BRAND_PATCH: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: { name: BRAND_SCHEMA.properties.name, defaultCountry: BRAND_SCHEMA.properties.defaultCountry },
};

export const SOURCE_INPUT: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'brand'],
  properties: {
    id: SOURCE_SCHEMA.properties.id,
    brand: SOURCE_SCHEMA.properties.brand,
    typeMap: SOURCE_SCHEMA.properties.typeMap,
    rateLimit: SOURCE_SCHEMA.properties.rateLimit,
  },
};

export const ROTATION_INPUT: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { graceHours: { type: 'number', minimum: 0, maximum: 720 } },
};

export const HOLD_INPUT: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['reason'],
  properties: { reason: REASON },
};

export const RELEASE_INPUT: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { reason: REASON },
};

const PLUGINS = {
  type: 'array',
  maxItems: 20,
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: { name: { type: 'string', minLength: 1, maxLength: 100 }, config: { type: 'object' } },
  },
};

export const DESTINATION_INPUT: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'brand', 'type', 'settings'],
  properties: {
    id: SLUG,
    brand: SLUG,
    type: { type: 'string', minLength: 1, maxLength: 64 },
    settings: { type: 'object' },
    state: { enum: ['enabled', 'paused', 'disabled'] },
    plugins: PLUGINS,
  },
};

export const DESTINATION_PATCH: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: { settings: { type: 'object' }, plugins: PLUGINS },
};

export const STATE_INPUT: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['state'],
  properties: { state: { enum: ['enabled', 'paused', 'disabled'] }, reason: REASON },
};

export const RULES_INPUT: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['rules'],
  properties: { rules: { type: 'object' } },
};

export const BRAND_QUERY: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { brand: SLUG },
};

export const DEAD_LETTER_QUERY: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    brand: SLUG,
    destination: SLUG,
    errorClass: { enum: ['validation', 'auth', 'retryable', 'rejected'] },
    error: { type: 'string', minLength: 1, maxLength: 200 },
    includeReplayed: { type: 'boolean' },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 },
  },
};

const LETTER_FILTER = {
  type: 'object',
  additionalProperties: false,
  properties: {
    brand: SLUG,
    destinationId: SLUG,
    errorClass: { enum: ['validation', 'auth', 'retryable', 'rejected'] },
    errorContains: { type: 'string', minLength: 1, maxLength: 200 },
  },
};

export const REPLAY_INPUT: JsonSchema = {
  type: 'object',
  oneOf: [
    {
      type: 'object',
      additionalProperties: false,
      required: ['ids'],
      properties: {
        ids: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'integer', minimum: 1 } },
      },
    },
    { type: 'object', additionalProperties: false, required: ['all'], properties: { all: { const: true } } },
    {
      type: 'object',
      additionalProperties: false,
      required: ['query'],
      properties: { query: LETTER_FILTER },
    },
  ],
};

export const DISCARD_INPUT: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['ids', 'reason'],
  properties: {
    ids: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'integer', minimum: 1 } },
    reason: REASON,
  },
};

export const REVIEW_QUERY: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    status: { enum: ['pending', 'approved', 'rejected'], default: 'pending' },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  },
};

export const SHARED_IDENTIFIER_QUERY: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
    /** The `nextAfter` of the previous page. */
    after: { type: 'integer', minimum: 0 },
  },
};

export const DECISION_INPUT: JsonSchema = RELEASE_INPUT;

export const DSR_INPUT: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type'],
  anyOf: [{ required: ['email'] }, { required: ['phone'] }, { required: ['customerId'] }],
  properties: {
    type: { enum: ['access', 'erasure'] },
    email: { type: 'string', minLength: 3, maxLength: 320 },
    phone: { type: 'string', minLength: 3, maxLength: 40 },
    customerId: { type: 'string', minLength: 1, maxLength: 200 },
    brand: SLUG,
  },
};

export const MERGE_INPUT: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['from', 'into', 'reason'],
  properties: {
    from: { type: 'string', minLength: 3, maxLength: 400 },
    into: { type: 'string', minLength: 3, maxLength: 400 },
    reason: REASON,
  },
};

export const UNMERGE_INPUT: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['lineageId', 'reason'],
  properties: { lineageId: { type: 'integer', minimum: 1 }, reason: REASON },
};

export const AUDIT_QUERY: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    action: { type: 'string', minLength: 1, maxLength: 100 },
    actor: { type: 'string', minLength: 1, maxLength: 200 },
    customerId: { type: 'string', minLength: 1, maxLength: 200 },
    limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
  },
};

export const API_KEY_INPUT: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'role'],
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 100 },
    role: { enum: ['admin', 'marketer', 'operator', 'auditor'] },
  },
};

export const EMPTY_QUERY: JsonSchema = { type: 'object', additionalProperties: false, properties: {} };

export const PREVIEW_INPUT: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['destinationId'],
  oneOf: [{ required: ['event'] }, { required: ['recentEvent'] }],
  properties: {
    destinationId: SLUG,
    event: {
      type: 'object',
      required: ['type', 'data'],
      properties: {
        type: { type: 'string', minLength: 1, maxLength: 200 },
        source: { type: 'string', minLength: 1, maxLength: 1000 },
        id: { type: 'string', minLength: 1, maxLength: 1000 },
        time: { type: 'string' },
        data: { type: 'object' },
      },
    },
    recentEvent: {
      type: 'object',
      additionalProperties: false,
      required: ['source', 'id'],
      properties: {
        sourceId: { type: 'string', minLength: 1, maxLength: 200 },
        source: { type: 'string', minLength: 1, maxLength: 1000 },
        id: { type: 'string', minLength: 1, maxLength: 1000 },
      },
    },
    rules: { type: 'object' },
  },
};

export const RECENT_EVENTS_QUERY: JsonSchema = {
  type: 'object',
  additionalProperties: false,
  properties: { brand: SLUG, limit: { type: 'integer', minimum: 1, maximum: 200, default: 20 } },
};
