import type { SandboxResponse } from '@tessera/destination-kit';
import { KLAVIYO_LIMITS } from '../klaviyo-endpoints';
import { KlaviyoApiError } from './klaviyo-errors';
import { json, route, type Route, type RouteContext, tooMany } from './klaviyo-routing';
import { bodyChecker, listCreateSchema, listMembersSchema } from './klaviyo-schemas';
import { iso, type KlaviyoStore } from './klaviyo-store';

/* Lists: create and read (for tests and the demo), and the profiles relationship (add and remove members). */

interface ListCreateDocument {
  data: { type: 'list'; attributes: { name: string } };
}
interface ListMembersDocument {
  data: Array<{ type: 'profile'; id: string }>;
}

const checkListCreate = bodyChecker<ListCreateDocument>(listCreateSchema);
const checkListMembers = bodyChecker<ListMembersDocument>(listMembersSchema);

export function listRoutes(store: KlaviyoStore): Route[] {
  const renderList = (id: string, base: string) => {
    const list = store.lists.get(id);
    return {
      type: 'list',
      id,
      attributes: {
        name: list?.name ?? '',
        created: list?.created ?? null,
        updated: list?.updated ?? null,
        opt_in_process: 'single_opt_in',
      },
      links: { self: `${base}/api/lists/${id}/` },
    };
  };

  const createList = (context: RouteContext): SandboxResponse => {
    const document = checkListCreate(context.body);
    const list = store.createList(document.data.attributes.name, context.now);
    return json(201, { data: renderList(list.id, context.base) });
  };

  const getList = (context: RouteContext): SandboxResponse => {
    const id = context.params[0] ?? '';
    if (!store.lists.has(id)) throw new KlaviyoApiError(404, `A list with id '${id}' does not exist.`);
    return json(200, {
      data: renderList(id, context.base),
      links: { self: `${context.base}/api/lists/${id}/` },
    });
  };

  const listMembers = (context: RouteContext, action: 'add' | 'remove'): SandboxResponse => {
    tooMany(context.body, ['data'], KLAVIYO_LIMITS.listRelationshipProfiles, 'profiles');
    const document = checkListMembers(context.body);
    if (document.data.length === 0) {
      throw new KlaviyoApiError(400, 'At least one profile is required.', { pointer: '/data' });
    }
    const id = context.params[0] ?? '';
    const list = store.lists.get(id);
    if (list === undefined) throw new KlaviyoApiError(404, `A list with id '${id}' does not exist.`);
    document.data.forEach((member, index) => {
      if (!store.profiles.has(member.id)) {
        throw new KlaviyoApiError(400, `A profile with id '${member.id}' does not exist.`, {
          pointer: `/data/${index}/id`,
        });
      }
    });
    for (const member of document.data) {
      if (action === 'add') list.profileIds.add(member.id);
      else list.profileIds.delete(member.id);
    }
    list.updated = iso(context.now);
    return { status: 204 };
  };

  return [
    route('list-create', 'POST', '/api/lists', createList),
    route('list', 'GET', '/api/lists/{id}', getList),
    route('list-add', 'POST', '/api/lists/{id}/relationships/profiles', (c) => listMembers(c, 'add')),
    route(
      'list-remove',
      'DELETE',
      '/api/lists/{id}/relationships/profiles',
      (c) => listMembers(c, 'remove'),
      { hasBody: true },
    ),
  ];
}
