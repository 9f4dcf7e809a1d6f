import { MAILCHIMP_API_ROOT, MAILCHIMP_LIMITS } from '../mailchimp-endpoints';

/*
 * The requests this destination sends, as an OpenAPI 3.0 document. Mailchimp publishes its Marketing API as a
 * Swagger 2.0 file (https://api.mailchimp.com/schema/3.0/Swagger.json, kept for its client libraries at
 * https://github.com/mailchimp/mailchimp-client-lib-codegen/blob/main/spec/marketing.json, version 3.0.55
 * read here) and documents each endpoint at:
 *
 * - GET  /ping                                   https://mailchimp.com/developer/marketing/api/ping/
 * - POST /lists/{list_id}                        https://mailchimp.com/developer/marketing/api/lists/ (Batch subscribe or unsubscribe)
 * - PUT  /lists/{list_id}/members/{hash}         https://mailchimp.com/developer/marketing/api/list-members/ (Add or update list member)
 * - GET  /lists/{list_id}/members/{hash}         https://mailchimp.com/developer/marketing/api/list-members/ (Get member info)
 * - DELETE /lists/{list_id}/members/{hash}      https://mailchimp.com/developer/marketing/api/list-members/archive-list-member/ (Archive list member)
 * - POST /lists/{list_id}/members/{hash}/actions/delete-permanent
 *                                                https://mailchimp.com/developer/marketing/api/list-members/ (Delete list member)
 * - GET  /lists/{list_id}/tag-search            https://mailchimp.com/developer/marketing/api/list-tags/ (Search for tags on a list by name)
 * - POST /lists/{list_id}/segments               https://mailchimp.com/developer/marketing/api/list-segments/ (Add segment)
 * - POST /lists/{list_id}/segments/{segment_id}  https://mailchimp.com/developer/marketing/api/list-segments/ (Batch add or remove members)
 *
 * Each request body is the published schema as it is — its properties, types, enums and `required` — with two
 * additions: `additionalProperties: false` (a field the published schema does not define, such as
 * `status_if_new` in a batch member, is refused) and the limits its descriptions state ("Up to 500 members",
 * "A maximum of 500 members can be sent") as `maxItems`.
 */

const MEMBER_STATUS = ['subscribed', 'unsubscribed', 'cleaned', 'pending', 'transactional'];

/** The member fields the batch schema ("Add List Members") and PUT share. */
const sharedMemberProperties = {
  email_address: { type: 'string' },
  email_type: { type: 'string' },
  status: { type: 'string', enum: MEMBER_STATUS },
  merge_fields: { type: 'object', additionalProperties: {} },
  interests: { type: 'object', additionalProperties: { type: 'boolean' } },
  language: { type: 'string' },
  vip: { type: 'boolean' },
  location: {
    type: 'object',
    properties: { latitude: { type: 'number' }, longitude: { type: 'number' } },
    additionalProperties: false,
  },
  ip_signup: { type: 'string' },
  timestamp_signup: { type: 'string', format: 'date-time' },
  ip_opt: { type: 'string' },
  timestamp_opt: { type: 'string', format: 'date-time' },
};

const hashParameter = { name: 'subscriber_hash', in: 'path', required: true, schema: { type: 'string' } };
const listParameter = { name: 'list_id', in: 'path', required: true, schema: { type: 'string' } };
const booleanQuery = (name: string) => ({ name, in: 'query', required: false, schema: { type: 'boolean' } });

const json = (schema: object) => ({ required: true, content: { 'application/json': { schema } } });
const ok = { '200': { description: 'OK' } };
const noContent = { '204': { description: 'No Content' } };

export const MAILCHIMP_REQUESTS_OPENAPI = {
  openapi: '3.0.3',
  info: {
    title: 'Mailchimp Marketing API — the requests of the Tessera Mailchimp destination',
    version: '3.0.55',
  },
  servers: [{ url: 'https://{dc}.api.mailchimp.com', variables: { dc: { default: 'us21' } } }],
  security: [{ basicAuth: [] }],
  components: {
    securitySchemes: { basicAuth: { type: 'http', scheme: 'basic' } },
    schemas: {
      /** "Add List Members": an item of the batch's `members`. It has no `status_if_new`. */
      BatchMember: {
        type: 'object',
        properties: sharedMemberProperties,
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
        parameters: [booleanQuery('skip_merge_validation'), booleanQuery('skip_duplicate_check')],
        requestBody: json({
          type: 'object',
          required: ['members'],
          properties: {
            members: {
              type: 'array',
              maxItems: MAILCHIMP_LIMITS.batchMembers,
              items: { $ref: '#/components/schemas/BatchMember' },
            },
            sync_tags: { type: 'boolean' },
            update_existing: { type: 'boolean' },
          },
          additionalProperties: false,
        }),
        responses: ok,
      },
    },
    [`${MAILCHIMP_API_ROOT}/lists/{list_id}/members/{subscriber_hash}`]: {
      parameters: [listParameter, hashParameter],
      get: { operationId: 'getListsIdMembersId', responses: ok },
      delete: { operationId: 'deleteListsIdMembersId', responses: noContent },
      put: {
        operationId: 'putListsIdMembersId',
        parameters: [booleanQuery('skip_merge_validation')],
        requestBody: json({
          type: 'object',
          required: ['email_address', 'status_if_new'],
          properties: {
            ...sharedMemberProperties,
            status_if_new: { type: 'string', enum: MEMBER_STATUS },
            marketing_permissions: {
              type: 'array',
              items: {
                type: 'object',
                properties: { marketing_permission_id: { type: 'string' }, enabled: { type: 'boolean' } },
                additionalProperties: false,
              },
            },
          },
          additionalProperties: false,
        }),
        responses: ok,
      },
    },
    [`${MAILCHIMP_API_ROOT}/lists/{list_id}/members/{subscriber_hash}/actions/delete-permanent`]: {
      parameters: [listParameter, hashParameter],
      post: { operationId: 'postListsIdMembersHashActionsDeletePermanent', responses: noContent },
    },
    [`${MAILCHIMP_API_ROOT}/lists/{list_id}/tag-search`]: {
      parameters: [listParameter],
      get: {
        operationId: 'searchTags',
        parameters: [{ name: 'name', in: 'query', required: false, schema: { type: 'string' } }],
        responses: ok,
      },
    },
    [`${MAILCHIMP_API_ROOT}/lists/{list_id}/segments`]: {
      parameters: [listParameter],
      post: {
        operationId: 'postListsIdSegments',
        requestBody: json({
          type: 'object',
          required: ['name'],
          properties: {
            name: { type: 'string' },
            static_segment: { type: 'array', items: { type: 'string' } },
            // The conditions of a saved segment (a oneOf of some twenty condition types) are summed up: this
            // destination creates tags (static segments) only and never sends them.
            options: {
              type: 'object',
              properties: {
                match: { type: 'string', enum: ['any', 'all'] },
                conditions: { type: 'array', items: { type: 'object' } },
              },
              additionalProperties: false,
            },
          },
          additionalProperties: false,
        }),
        responses: ok,
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
          properties: {
            members_to_add: {
              type: 'array',
              maxItems: MAILCHIMP_LIMITS.segmentMembers,
              items: { type: 'string' },
            },
            members_to_remove: {
              type: 'array',
              maxItems: MAILCHIMP_LIMITS.segmentMembers,
              items: { type: 'string' },
            },
          },
          additionalProperties: false,
        }),
        responses: ok,
      },
    },
  },
} as const;
