import { describeWithSpecs } from './contract-suite';
import { OpenApiContract, type CapturedRequest } from './openapi-contract';

const klaviyoHeaders = {
  Authorization: 'Klaviyo-API-Key pk_x',
  revision: '2026-07-15',
  'Content-Type': 'application/vnd.api+json',
};

const LIST_PATH = '/api/lists/Y6nRLr/relationships/profiles';

function addToList(overrides: Partial<CapturedRequest> = {}): CapturedRequest {
  return {
    method: 'POST',
    path: LIST_PATH,
    headers: klaviyoHeaders,
    body: { data: [{ type: 'profile', id: '01HXYZABCDEFGHJKMNPQRSTVWX' }] },
    ...overrides,
  };
}

describeWithSpecs('klaviyo', 'OpenApiContract against the Klaviyo specs', (dir) => {
  const contract = OpenApiContract.fromFolder(dir);

  it('lists the operations of every document in the folder', () => {
    const operations = contract.operations();
    expect(operations).toContainEqual({
      method: 'POST',
      pathTemplate: '/api/lists/{id}/relationships/profiles',
      operationId: 'add_profiles_to_list',
    });
    expect(operations).toContainEqual({
      method: 'DELETE',
      pathTemplate: '/api/lists/{id}/relationships/profiles',
      operationId: 'remove_profiles_from_list',
    });
    expect(operations).toContainEqual({
      method: 'POST',
      pathTemplate: '/api/profile-import',
      operationId: 'create_or_update_profile',
    });
    expect(operations.length).toBeGreaterThanOrEqual(10);
  });

  it('accepts a conforming add-profiles-to-list request (headers matched case-insensitively)', () => {
    expect(contract.validate(addToList())).toEqual([]);
    const lowerCased = { authorization: 'Klaviyo-API-Key pk_x', REVISION: '2026-07-15' };
    expect(contract.validate(addToList({ headers: lowerCased, path: `${LIST_PATH}?x=1` }))).toEqual([]);
  });

  it('reports a wrong resource type at its pointer, naming the allowed value', () => {
    const violations = contract.validate(addToList({ body: { data: [{ type: 'list', id: '01H' }] } }));
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatchObject({ where: 'body', pointer: '/data/0/type' });
    expect(violations[0]?.message).toContain('"profile"');
  });

  it('reports a missing data member at the root', () => {
    const violations = contract.validate(addToList({ body: {} }));
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatchObject({ where: 'body', pointer: '' });
    expect(violations[0]?.message).toContain("'data'");
  });

  it('reports a missing body of an operation whose body is required', () => {
    expect(contract.validate(addToList({ body: undefined }))).toEqual([
      { where: 'body', pointer: '', message: 'the request body is required' },
    ]);
  });

  it('reports a missing revision header', () => {
    const violations = contract.validate(
      addToList({ headers: { Authorization: 'Klaviyo-API-Key pk_x', revision: undefined } }),
    );
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatchObject({ where: 'header', pointer: 'revision' });
    expect(violations[0]?.message).toContain('revision');
  });

  it('reports a missing Authorization header (the Klaviyo-API-Key apiKey scheme)', () => {
    const violations = contract.validate(addToList({ headers: { revision: '2026-07-15' } }));
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatchObject({ where: 'header', pointer: 'Authorization' });
    expect(violations[0]?.message).toContain('Authorization');
    expect(violations[0]?.message).toContain('Klaviyo-API-Key');
  });

  it('reports an unknown path, and a known path with an undeclared method, as one path violation', () => {
    const unknown = contract.validate(addToList({ path: '/api/lists/Y6nRLr/relationships/segments' }));
    expect(unknown).toHaveLength(1);
    expect(unknown[0]).toMatchObject({ where: 'path', pointer: '/api/lists/Y6nRLr/relationships/segments' });
    expect(unknown[0]?.message).toContain('/api/lists/Y6nRLr/relationships/segments');
    const wrongMethod = contract.validate(addToList({ method: 'PUT' }));
    expect(wrongMethod).toEqual([expect.objectContaining({ where: 'path', pointer: LIST_PATH })]);
  });

  it('validates a create-or-update-profile body, resolving nested component schemas', () => {
    const upsert = (email: unknown): CapturedRequest => ({
      method: 'post',
      path: '/api/profile-import',
      headers: klaviyoHeaders,
      body: {
        data: { type: 'profile', attributes: { email, first_name: 'Sarah', properties: { tier: 'gold' } } },
      },
    });
    expect(contract.validate(upsert('a@example.com'))).toEqual([]);
    expect(contract.validate(upsert(null))).toEqual([]); // `nullable: true` in the spec
    const violations = contract.validate(upsert(42));
    expect(violations).toHaveLength(1);
    expect(violations[0]).toMatchObject({ where: 'body', pointer: '/data/attributes/email' });
    expect(violations[0]?.message).toContain('string');
  });

  it('checks GET operations (no body) for their headers only', () => {
    expect(
      contract.validate({
        method: 'GET',
        path: '/api/profiles/01H?fields[profile]=email',
        headers: klaviyoHeaders,
      }),
    ).toEqual([]);
    expect(contract.validate({ method: 'GET', path: '/api/profiles', headers: {} })).toEqual([
      expect.objectContaining({ where: 'header', pointer: 'revision' }),
      expect.objectContaining({ where: 'header', pointer: 'Authorization' }),
    ]);
  });
});

describeWithSpecs('braze', 'OpenApiContract against the Braze community spec', (dir) => {
  it('validates POST /users/track: attributes must be an array of objects, Authorization must be Bearer', () => {
    const contract = OpenApiContract.fromFolder(dir);
    expect(contract.operations()).toContainEqual({ method: 'POST', pathTemplate: '/users/track' });
    const track = (body: unknown, authorization = 'Bearer rest-key'): CapturedRequest => ({
      method: 'POST',
      path: '/users/track',
      headers: { Authorization: authorization, 'Content-Type': 'application/json' },
      body,
    });
    expect(
      contract.validate(track({ attributes: [{ external_id: 'c-1', email: 'a@example.com' }] })),
    ).toEqual([]);
    expect(contract.validate(track({ attributes: { external_id: 'c-1' } }))).toEqual([
      expect.objectContaining({ where: 'body', pointer: '/attributes' }),
    ]);
    expect(contract.validate(track({ attributes: [] }, 'Klaviyo-API-Key pk_x'))).toEqual([
      expect.objectContaining({ where: 'header', pointer: 'Authorization' }),
    ]);
  });
});

describe('OpenApiContract.fromDocuments', () => {
  const document = {
    openapi: '3.0.2',
    paths: {
      '/v1/members/{id}': {
        parameters: [{ name: 'X-Tenant', in: 'header', required: true, schema: { type: 'string' } }],
        put: {
          operationId: 'put_member',
          parameters: [{ name: 'dry_run', in: 'query', required: true, schema: { type: 'boolean' } }],
          requestBody: { $ref: '#/components/requestBodies/Member' },
        },
      },
      '/v1/members/me': { put: { operationId: 'put_me' } },
    },
    components: {
      requestBodies: {
        Member: {
          required: true,
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Member' } } },
        },
      },
      schemas: {
        Member: {
          type: 'object',
          required: ['tier'],
          properties: {
            tier: { type: 'string', enum: ['gold', 'silver'] },
            since: { type: 'string', format: 'date' },
          },
        },
      },
    },
  };
  const contract = OpenApiContract.fromDocuments([document]);

  it('checks path-level headers, required query parameters and $ref request bodies', () => {
    const headers = { 'x-tenant': 't1' };
    expect(
      contract.validate({
        method: 'PUT',
        path: '/v1/members/42?dry_run=true',
        headers,
        body: { tier: 'gold' },
      }),
    ).toEqual([]);
    expect(
      contract.validate({
        method: 'PUT',
        path: '/v1/members/42',
        headers: {},
        body: { tier: 'bronze', since: 'soon' },
      }),
    ).toEqual([
      { where: 'header', pointer: 'X-Tenant', message: "required header 'X-Tenant' is missing" },
      { where: 'query', pointer: 'dry_run', message: "required query parameter 'dry_run' is missing" },
      {
        where: 'body',
        pointer: '/tier',
        message: '/tier must be equal to one of the allowed values: "gold", "silver"',
      },
      { where: 'body', pointer: '/since', message: '/since must match format "date"' },
    ]);
  });

  it('prefers a literal path segment over a template parameter', () => {
    expect(contract.validate({ method: 'PUT', path: '/v1/members/me', headers: {}, body: {} })).toEqual([]);
  });

  it('rejects something that is not an OpenAPI document', () => {
    expect(() => OpenApiContract.fromDocuments([{ swagger: '2.0' }])).toThrow('not an OpenAPI document');
  });
});
