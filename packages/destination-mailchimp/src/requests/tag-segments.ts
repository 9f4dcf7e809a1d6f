import { type OperationContext, RejectedError } from '@tessera/destination-kit';
import { MAILCHIMP_PATHS } from '../mailchimp-endpoints';
import type { MailchimpSettings } from '../mailchimp-settings';

/*
 * In Mailchimp a tag is a static segment ("Static segments are now known as tags", segment `type`), so a tag's
 * members change in bulk through the static segment endpoint once its segment id is known. The id is found once
 * per runner (GET /lists/{list_id}/tag-search?name=…), or the tag is created (POST /lists/{list_id}/segments
 * with `static_segment: []`), and kept: one lookup per tag for the runner's life instead of a tags call per
 * member per event.
 */

export interface TagSearchResponse {
  tags?: { id?: number | string; name?: string }[];
  total_items?: number;
}

export interface CreatedSegment {
  id?: number | string;
  name?: string;
  type?: string;
}

/** The body that creates a tag: a static segment without members. */
export interface CreateTagBody {
  name: string;
  static_segment: string[];
}

type TagContext = Pick<OperationContext<MailchimpSettings>, 'http' | 'settings'>;

/**
 * Tag name → segment id, per runner: a runner hands every call the same settings object, so the cache lives as
 * long as the runner and no longer. An entry holds the lookup in flight, so concurrent calls share it.
 */
const tagIds = new WeakMap<MailchimpSettings, Map<string, Promise<string | undefined>>>();

function cacheOf(settings: MailchimpSettings): Map<string, Promise<string | undefined>> {
  let cache = tagIds.get(settings);
  if (cache === undefined) {
    cache = new Map();
    tagIds.set(settings, cache);
  }
  return cache;
}

/** The tag's segment id; when the audience has no such tag, a new one (`create`) or undefined. */
export async function tagSegmentId(
  name: string,
  context: TagContext,
  create: boolean,
): Promise<string | undefined> {
  const cache = cacheOf(context.settings);
  const cached = cache.get(name);
  if (cached !== undefined) {
    const id = await cached;
    if (id !== undefined || !create) return id;
  }
  const lookup = findOrCreateTag(name, context, create);
  cache.set(name, lookup);
  try {
    return await lookup;
  } catch (error) {
    if (cache.get(name) === lookup) cache.delete(name);
    throw error;
  }
}

/** Forgets a tag's id (the marketer deleted the tag in Mailchimp): the next call looks it up again. */
export function forgetTagSegment(name: string, settings: MailchimpSettings): void {
  tagIds.get(settings)?.delete(name);
}

async function findOrCreateTag(
  name: string,
  { http, settings }: TagContext,
  create: boolean,
): Promise<string | undefined> {
  const found = await http.get<TagSearchResponse>(MAILCHIMP_PATHS.tagSearch(settings.listId), {
    query: { name },
  });
  const tags = found.body?.tags ?? [];
  // The search matches parts of names: only a tag of this very name (in any case) is this tag.
  const match =
    tags.find((tag) => tag.name === name) ??
    tags.find((tag) => tag.name?.toLowerCase() === name.toLowerCase());
  if (match?.id !== undefined) return String(match.id);
  if (!create) return undefined;
  const body: CreateTagBody = { name, static_segment: [] };
  const created = await http.post<CreatedSegment>(MAILCHIMP_PATHS.segments(settings.listId), body);
  if (created.body?.id === undefined)
    throw new RejectedError(`Mailchimp created tag "${name}" without an id`);
  return String(created.body.id);
}
