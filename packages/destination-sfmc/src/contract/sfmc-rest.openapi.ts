import { SFMC_LIMITS } from '../sfmc-endpoints';

/*
 * The REST requests this destination sends, as an OpenAPI 3.0 document written from Salesforce's Marketing
 * Cloud Engagement REST reference (developer.salesforce.com/docs/marketing/marketing-cloud; each operation's
 * `externalDocs` names its page). SFMC publishes no OpenAPI file, so this is our reading of the docs, kept to
 * what Tessera sends; the harness checks every request against it.
 */

const bearer = [{ bearerAuth: [] }];
const docs = (page: string): { url: string } => ({
  url: `https://developer.salesforce.com/docs/marketing/marketing-cloud/guide/${page}`,
});
const columnValue = { type: ['string', 'number', 'boolean'] };
const row = {
  type: 'object',
  required: ['TesseraId'],
  properties: { TesseraId: { type: 'string', minLength: 1, maxLength: 254 } },
  additionalProperties: columnValue,
};
const requestIdParameter = { name: 'requestId', in: 'path', required: true, schema: { type: 'string' } };
const keyParameter = { name: 'key', in: 'path', required: true, schema: { type: 'string', minLength: 1 } };

export const SFMC_REST_OPENAPI = {
  openapi: '3.0.3',
  info: { title: 'SFMC Engagement REST API (requests Tessera sends)', version: '2026-11' },
  components: {
    securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer' } },
  },
  paths: {
    '/v2/token': {
      post: {
        operationId: 'accessToken',
        externalDocs: docs('access-token-s2s.html'),
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['grant_type', 'client_id', 'client_secret'],
                additionalProperties: false,
                properties: {
                  grant_type: { enum: ['client_credentials'] },
                  client_id: { type: 'string', minLength: 1 },
                  client_secret: { type: 'string', minLength: 1 },
                  account_id: { type: ['string', 'integer'], pattern: '^[0-9]+$' },
                  scope: { type: 'string' },
                },
              },
            },
          },
        },
      },
    },
    '/hub/v1/dataevents/key:{key}/rowset': {
      post: {
        operationId: 'upsertRowset',
        externalDocs: docs('postDataExtensionRowsetByKey.html'),
        security: bearer,
        parameters: [keyParameter],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'array',
                minItems: 1,
                // SFMC: "update or insert a maximum of 50 columns and 50 records at a time".
                maxItems: SFMC_LIMITS.syncRowsPerRequest,
                items: {
                  type: 'object',
                  required: ['keys', 'values'],
                  additionalProperties: false,
                  properties: {
                    keys: {
                      type: 'object',
                      required: ['TesseraId'],
                      additionalProperties: false,
                      properties: { TesseraId: { type: 'string', minLength: 1, maxLength: 254 } },
                    },
                    values: { type: 'object', additionalProperties: columnValue },
                  },
                },
              },
            },
          },
        },
      },
    },
    '/data/v1/async/dataextensions/key:{key}/rows': {
      put: {
        operationId: 'upsertRowsAsync',
        externalDocs: docs('updateDataExtensionIDAsync.html'),
        security: bearer,
        parameters: [keyParameter],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['items'],
                additionalProperties: false,
                properties: {
                  items: {
                    type: 'array',
                    minItems: 1,
                    maxItems: SFMC_LIMITS.asyncRowsPerRequest,
                    items: row,
                  },
                },
              },
            },
          },
        },
      },
    },
    '/data/v1/async/{requestId}/status': {
      get: {
        operationId: 'asyncStatus',
        externalDocs: docs('getStatusDataExtensionAsync.html'),
        security: bearer,
        parameters: [requestIdParameter],
      },
    },
    '/data/v1/async/{requestId}/results': {
      get: {
        operationId: 'asyncResults',
        externalDocs: docs('getResultsDataExtensionAsync.html'),
        security: bearer,
        parameters: [requestIdParameter],
      },
    },
    '/data/v1/customobjectdata/key/{key}/rowset': {
      get: {
        operationId: 'queryRows',
        externalDocs: docs('getDataExtensionRowsetByKey.html'),
        security: bearer,
        parameters: [
          keyParameter,
          { name: '$filter', in: 'query', required: true, schema: { type: 'string' } },
        ],
      },
    },
    '/contacts/v1/contacts/actions/delete': {
      post: {
        operationId: 'deleteContactsByKey',
        externalDocs: docs('DeleteContactsByKey.html'),
        security: bearer,
        parameters: [{ name: 'type', in: 'query', required: true, schema: { enum: ['keys'] } }],
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['values', 'DeleteOperationType'],
                additionalProperties: false,
                properties: {
                  values: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
                  DeleteOperationType: { enum: ['ContactAndAttributes'] },
                },
              },
            },
          },
        },
      },
    },
    '/platform/v1/ens-verify': {
      post: {
        operationId: 'verifyCallback',
        externalDocs: docs('ens-verify-callback.html'),
        security: bearer,
        requestBody: {
          required: true,
          content: {
            'application/json': {
              schema: {
                type: 'object',
                required: ['callbackId', 'verificationKey'],
                additionalProperties: false,
                properties: {
                  callbackId: { type: 'string', minLength: 1 },
                  verificationKey: { type: 'string', minLength: 1 },
                },
              },
            },
          },
        },
      },
    },
    '/platform/v1/tokenContext': {
      get: { operationId: 'tokenContext', externalDocs: docs('getTokenContext.html'), security: bearer },
    },
    '/Service.asmx': {
      post: {
        operationId: 'soap',
        description:
          'SOAP API (body is XML: validated by validateSoapEnvelope, not by this document). Reference: the SOAP API ' +
          'guide, Subscriber object and Create method with SaveOptions UpdateAdd.',
        externalDocs: docs('soap-api-introduction.html'),
        parameters: [{ name: 'SOAPAction', in: 'header', required: true, schema: { type: 'string' } }],
      },
    },
  },
} as const;
