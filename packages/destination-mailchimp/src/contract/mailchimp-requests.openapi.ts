import { MAILCHIMP_API_ROOT, MAILCHIMP_LIMITS } from '../mailchimp-endpoints';

/*
 * The requests this destination sends, as an OpenAPI 3.0 document: Mailchimp publishes no usable OpenAPI file
 * for the Marketing API, so this one is written from its API reference, one schema per endpoint:
 *
 * - GET  /ping                                   https://mailchimp.com/developer/marketing/api/ping/
 * - POST /lists/{list_id}                        https://mailchimp.com/developer/marketing/api/lists/ (Batch subscribe or unsubscribe)
 * - PUT  /lists/{list_id}/members/{hash}         https://mailchimp.com/developer/marketing/api/list-members/ (Add or update list member)
 * - GET  /lists/{list_id}/members/{hash}         https://mailchimp.com/developer/marketing/api/list-members/ (Get member info)
 * - POST /lists/{list_id}/members/{hash}/actions/delete-permanent
 *                                                https://mailchimp.com/developer/marketing/api/list-members/ (Delete list member)
 * - POST /lists/{list_id}/members/{hash}/tags    https://mailchimp.com/developer/marketing/api/list-member-tags/
 * - POST /lists/{list_id}/segments/{segment_id}  https://mailchimp.com/developer/marketing/api/list-segments/ (Batch add or remove members)
 *
 * Only the fields this destination may send are listed, and `additionalProperties: false` catches a typo.
 */

const MEMBER_STATUS = ['subscribed', 'unsubscribed', 'cleaned', 'pending', 'transactional'];

const address = {
  type: 'object',
  required: ['addr1', 'city', 'state', 'zip'],
  properties: {
    addr1: { type: 'string', minLength: 1 },
    addr2: { type: 'string' },
    city: { type: 'string', minLength: 1 },
    state: { type: 'string', minLength: 1 },
    zip: { type: 'string', minLength: 1 },
    country: { type: 'string' },
  },
  additionalProperties: false,
};

const mergeFields = {
  type: 'object',
  description: 'Merge tag (up to 10 upper-case letters, digits, underscores) → value.',
  propertyNames: { pattern: '^[A-Z][A-Z0-9_]{0,9}$' },
  additionalProperties: { anyOf: [{ type: 'string' }, { type: 'number' }, address] },
};

const memberProperties = {
  email_address: { type: 'string', format: 'email' },
  email_type: { type: 'string', enum: ['html', 'text'] },
  status: { type: 'string', enum: MEMBER_STATUS },
  status_if_new: { type: 'string', enum: MEMBER_STATUS },
  merge_fields: mergeFields,
  language: { type: 'string' },
  vip: { type: 'boolean' },
};

const hashParameter = {
  name: 'subscriber_hash',
  in: 'path',
  required: true,
  schema: { type: 'string', pattern: '^[0-9a-f]{32}$' },
};
const listParameter = { name: 'list_id', in: 'path', required: true, schema: { type: 'string' } };

const json = (schema: object) => ({ required: true, content: { 'application/json': { schema } } });
const ok = { '200': { description: 'OK' } };
const noContent = { '204': { description: 'No Content' } };

export const MAILCHIMP_REQUESTS_OPENAPI = {
  openapi: '3.0.3',
  info: {
    title: 'Mailchimp Marketing API — the requests of the Tessera Mailchimp destination',
    version: '3.0.0',
  },
  servers: [{ url: 'https://{dc}.api.mailchimp.com', variables: { dc: { default: 'us21' } } }],
  security: [{ basicAuth: [] }],
  components: {
    securitySchemes: { basicAuth: { type: 'http', scheme: 'basic' } },
    schemas: {
      BatchMember: {
        type: 'object',
        required: ['email_address'],
        // A new member needs a status: `status` or `status_if_new`.
        anyOf: [{ required: ['status'] }, { required: ['status_if_new'] }],
        properties: memberProperties,
        additionalProperties: false,
      },
    },
  },
  paths: {
    [`${MAILCHIMP_API_ROOT}/ping`]: {
      get: { operationId: 'getPing', responses: ok },
    },
    [`${MAILCHIMP_API_ROOT}/lists/{list_id}`]: {
      parameters: [listParameter],
      post: {
        operationId: 'postListsId',
        requestBody: json({
          type: 'object',
          required: ['members'],
          properties: {
            members: {
              type: 'array',
              minItems: 1,
              maxItems: MAILCHIMP_LIMITS.batchMembers,
              items: { $ref: '#/components/schemas/BatchMember' },
            },
            update_existing: { type: 'boolean' },
            sync_tags: { type: 'boolean' },
          },
          additionalProperties: false,
        }),
        responses: ok,
      },
    },
    [`${MAILCHIMP_API_ROOT}/lists/{list_id}/members/{subscriber_hash}`]: {
      parameters: [listParameter, hashParameter],
      get: { operationId: 'getListsIdMembersId', responses: ok },
      put: {
        operationId: 'putListsIdMembersId',
        requestBody: json({
          type: 'object',
          required: ['email_address', 'status_if_new'],
          properties: memberProperties,
          additionalProperties: false,
        }),
        responses: ok,
      },
    },
    [`${MAILCHIMP_API_ROOT}/lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent`]: {
      parameters: [listParameter, hashParameter],
      post: { operationId: 'postListsIdMembersHashActionsDeletePermanent', responses: noContent },
    },
    [`${MAILCHIMP_API_ROOT}/lists/{list_id}/members/{subscriber_hash}/tags`]: {
      parameters: [listParameter, hashParameter],
      post: {
        operationId: 'postListMemberTags',
        requestBody: json({
          type: 'object',
          required: ['tags'],
          properties: {
            tags: {
              type: 'array',
              minItems: 1,
              items: {
                type: 'object',
                required: ['name', 'status'],
                properties: {
                  name: { type: 'string', minLength: 1, maxLength: 100 },
                  status: { type: 'string', enum: ['active', 'inactive'] },
                },
                additionalProperties: false,
              },
            },
            is_syncing: { type: 'boolean' },
          },
          additionalProperties: false,
        }),
        responses: noContent,
      },
    },
    [`${MAILCHIMP_API_ROOT}/lists/{list_id}/segments/{segment_id}`]: {
      parameters: [
        listParameter,
        { name: 'segment_id', in: 'path', required: true, schema: { type: 'string' } },
      ],
      post: {
        operationId: 'postListsIdSegmentsId',
        requestBody: json({
          type: 'object',
          minProperties: 1,
          properties: {
            members_to_add: {
              type: 'array',
              maxItems: MAILCHIMP_LIMITS.segmentMembers,
              items: { type: 'string', format: 'email' },
            },
            members_to_remove: {
              type: 'array',
              maxItems: MAILCHIMP_LIMITS.segmentMembers,
              items: { type: 'string', format: 'email' },
            },
          },
          additionalProperties: false,
        }),
        responses: ok,
      },
    },
  },
} as const;
