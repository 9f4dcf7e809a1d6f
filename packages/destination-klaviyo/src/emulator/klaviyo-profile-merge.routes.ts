import type { SandboxResponse } from '@tessera/destination-kit';
import { KlaviyoApiError } from './klaviyo-errors';
import { json, route, type Route, type RouteContext } from './klaviyo-routing';
import { bodyChecker, profileMergeSchema } from './klaviyo-schemas';
import { iso, type KlaviyoStore, type ProfileRecord } from './klaviyo-store';

/*
 * Merge Profiles (POST /api/profile-merge): the source profile's data moves into the destination profile and the
 * source is deleted. Klaviyo runs it as a task; the emulator merges at once. What the destination already has
 * is kept; what it lacks (identifiers, names, location, custom properties, a consent it never recorded, list
 * memberships) comes from the source — Klaviyo keeps the destination's value where both have one.
 */

interface ProfileMergeDocument {
  data: {
    type: 'profile-merge';
    id: string;
    relationships: { profiles: { data: [{ type: 'profile'; id: string }] } };
  };
}

/** What the emulator merged, in order (shown in `state()`). */
export interface MergeRecord {
  destination_id: string;
  source_id: string;
  merged_at: string;
}

const checkMerge = bodyChecker<ProfileMergeDocument>(profileMergeSchema);

const FILLED_FIELDS = [
  'email',
  'phone_number',
  'external_id',
  'first_name',
  'last_name',
  'organization',
  'locale',
  'title',
  'image',
  'location',
] as const;

export function profileMergeRoutes(store: KlaviyoStore, merges: MergeRecord[]): Route[] {
  const merge = (context: RouteContext): SandboxResponse => {
    const document = checkMerge(context.body);
    const destination = store.profiles.get(document.data.id);
    if (destination === undefined) {
      throw new KlaviyoApiError(404, `A profile with id '${document.data.id}' does not exist.`, {
        pointer: '/data/id',
      });
    }
    const sourceId = document.data.relationships.profiles.data[0].id;
    const source = store.profiles.get(sourceId);
    if (source === undefined) {
      throw new KlaviyoApiError(404, `A profile with id '${sourceId}' does not exist.`, {
        pointer: '/data/relationships/profiles/data/0/id',
      });
    }
    if (source === destination) {
      throw new KlaviyoApiError(400, 'A profile cannot be merged into itself.', {
        pointer: '/data/relationships/profiles/data/0/id',
      });
    }
    mergeInto(store, destination, source, context.now);
    merges.push({ destination_id: destination.id, source_id: source.id, merged_at: iso(context.now) });
    return json(201, {
      data: {
        type: 'profile',
        id: destination.id,
        links: { self: `${context.base}/api/profiles/${destination.id}/` },
      },
      links: { self: `${context.base}/api/profile-merge/` },
    });
  };
  return [route('profile-merge', 'POST', '/api/profile-merge', merge)];
}

function mergeInto(
  store: KlaviyoStore,
  destination: ProfileRecord,
  source: ProfileRecord,
  now: number,
): void {
  const taken: Partial<Record<(typeof FILLED_FIELDS)[number], unknown>> = {};
  for (const field of FILLED_FIELDS) if (destination[field] === null) taken[field] = source[field];
  destination.properties = { ...source.properties, ...destination.properties };
  for (const channel of ['email', 'sms'] as const) {
    if (destination.subscriptions[channel].marketing.consent === 'NEVER_SUBSCRIBED')
      destination.subscriptions[channel].marketing = structuredClone(source.subscriptions[channel].marketing);
  }
  const lists = [...store.lists.values()].filter((list) => list.profileIds.has(source.id));
  // The source goes first, so that its identifiers are free for the destination.
  store.deleteProfile(source.id);
  for (const list of lists) list.profileIds.add(destination.id);
  Object.assign(destination, taken);
  store.fillIdentifiers(destination, {});
  destination.updated = iso(now);
}
