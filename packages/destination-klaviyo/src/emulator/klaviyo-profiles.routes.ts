import type { SandboxResponse } from '@tessera/destination-kit';
import { KLAVIYO_LIMITS } from '../klaviyo-endpoints';
import { KlaviyoApiError } from './klaviyo-errors';
import { FilterError, matchesAll, parseProfileFilter, type ProfileCondition } from './klaviyo-filter';
import { decodeCursor, pageLinks, pageSize } from './klaviyo-pagination';
import { json, route, type Route, type RouteContext } from './klaviyo-routing';
import { bodyChecker, profileImportSchema, profileUpdateSchema } from './klaviyo-schemas';
import type { KlaviyoStore, ProfileRecord, ProfileUpsertInput } from './klaviyo-store';

/* Profiles: profile-import (upsert), GET /api/profiles (filter, pages), GET and PATCH /api/profiles/{id}. */

interface ProfileDocument {
  data: ProfileUpsertInput;
}

const checkProfileImport = bodyChecker<ProfileDocument>(profileImportSchema);
const checkProfileUpdate = bodyChecker<ProfileDocument & { data: { id: string } }>(profileUpdateSchema);

/** The `additional-fields[profile]` asked for (subscriptions, predictive_analytics). */
function additionalFields(query: URLSearchParams): Set<string> {
  const fields = new Set<string>();
  for (const raw of query.getAll('additional-fields[profile]')) {
    for (const field of raw.split(',')) {
      if (field === '') continue;
      if (field !== 'subscriptions' && field !== 'predictive_analytics') {
        throw new KlaviyoApiError(400, `'${field}' is not a valid additional field for 'profile'.`, {
          parameter: 'additional-fields[profile]',
        });
      }
      fields.add(field);
    }
  }
  return fields;
}

function renderEmailMarketing(profile: ProfileRecord) {
  const marketing = profile.subscriptions.email.marketing;
  return {
    can_receive_email_marketing:
      profile.email !== null && marketing.consent === 'SUBSCRIBED' && marketing.suppression.length === 0,
    consent: marketing.consent,
    consent_timestamp: marketing.consented_at,
    last_updated: marketing.last_updated,
    method: null,
    method_detail: '',
    custom_method_detail: null,
    double_optin: null,
    suppression: marketing.suppression.map((entry) => ({ ...entry })),
    list_suppressions: [],
  };
}

function renderSmsMarketing(profile: ProfileRecord) {
  const marketing = profile.subscriptions.sms.marketing;
  return {
    can_receive_sms_marketing: profile.phone_number !== null && marketing.consent === 'SUBSCRIBED',
    consent: marketing.consent,
    consent_timestamp: marketing.consented_at,
    method: null,
    method_detail: '',
    last_updated: marketing.last_updated,
  };
}

/** The attributes `fields[profile]` may name (dotted names select inside these; the emulator keeps all of it). */
const SPARSE_FIELDS = new Set([
  'created',
  'email',
  'external_id',
  'first_name',
  'id',
  'image',
  'last_event_date',
  'last_name',
  'locale',
  'location',
  'organization',
  'phone_number',
  'predictive_analytics',
  'properties',
  'subscriptions',
  'title',
  'updated',
]);

/** The top-level attributes a sparse fieldset (`fields[profile]=email,external_id`) keeps, or undefined for all. */
function sparseFieldset(query: URLSearchParams): Set<string> | undefined {
  const raw = query.getAll('fields[profile]');
  if (raw.length === 0) return undefined;
  const kept = new Set<string>();
  for (const field of raw.flatMap((value) => value.split(','))) {
    const top = field.split('.')[0] ?? '';
    if (!SPARSE_FIELDS.has(top)) {
      throw new KlaviyoApiError(400, `'${field}' is not a valid field for the resource 'profile'.`, {
        parameter: 'fields[profile]',
      });
    }
    kept.add(top);
  }
  return kept;
}

/** Only the attributes of a sparse fieldset (all when none is asked for). */
function keepFields<T extends Record<string, unknown>>(
  attributes: T,
  kept: Set<string> | undefined,
): Partial<T> {
  if (kept === undefined) return attributes;
  return Object.fromEntries(Object.entries(attributes).filter(([name]) => kept.has(name))) as Partial<T>;
}

/** A profile resource as Klaviyo's profile endpoints return it. */
function renderProfile(profile: ProfileRecord, base: string, fields: Set<string>, kept?: Set<string>) {
  return {
    type: 'profile',
    id: profile.id,
    attributes: keepFields(
      {
        email: profile.email,
        phone_number: profile.phone_number,
        external_id: profile.external_id,
        first_name: profile.first_name,
        last_name: profile.last_name,
        organization: profile.organization,
        locale: profile.locale,
        title: profile.title,
        image: profile.image,
        created: profile.created,
        updated: profile.updated,
        last_event_date: null,
        location: profile.location === null ? null : { ...profile.location },
        properties: structuredClone(profile.properties),
        ...(fields.has('subscriptions')
          ? {
              subscriptions: {
                email: { marketing: renderEmailMarketing(profile) },
                sms: { marketing: renderSmsMarketing(profile) },
              },
            }
          : {}),
        ...(fields.has('predictive_analytics') ? { predictive_analytics: null } : {}),
      },
      kept,
    ),
    links: { self: `${base}/api/profiles/${profile.id}/` },
  };
}

export function profileRoutes(store: KlaviyoStore): Route[] {
  const requireProfile = (id: string): ProfileRecord => {
    const profile = store.profiles.get(id);
    if (profile === undefined) throw new KlaviyoApiError(404, `A profile with id '${id}' does not exist.`);
    return profile;
  };

  const profileImport = (context: RouteContext): SandboxResponse => {
    const fields = additionalFields(context.request.query);
    const document = checkProfileImport(context.body);
    const { profile, created } = store.upsertProfile(document.data, context.now);
    return json(created ? 201 : 200, { data: renderProfile(profile, context.base, fields) });
  };

  const getProfile = (context: RouteContext): SandboxResponse => {
    const fields = additionalFields(context.request.query);
    const profile = requireProfile(context.params[0] ?? '');
    return json(200, {
      data: renderProfile(profile, context.base, fields),
      links: { self: `${context.base}/api/profiles/${profile.id}/` },
    });
  };

  const updateProfile = (context: RouteContext): SandboxResponse => {
    const fields = additionalFields(context.request.query);
    const id = context.params[0] ?? '';
    const document = checkProfileUpdate(context.body);
    if (document.data.id !== id) {
      throw new KlaviyoApiError(
        409,
        `The id '${document.data.id}' in the body does not match the id '${id}' in the URL.`,
        { pointer: '/data/id' },
      );
    }
    const profile = requireProfile(id);
    store.updateProfile(profile, document.data, context.now);
    return json(200, { data: renderProfile(profile, context.base, fields) });
  };

  const getProfiles = (context: RouteContext): SandboxResponse => {
    const query = context.request.query;
    const fields = additionalFields(query);
    const kept = sparseFieldset(query);
    const size = pageSize(query);
    const offset = decodeCursor(query.get('page[cursor]'));
    let conditions: ProfileCondition[] = [];
    const filter = query.get('filter');
    if (filter !== null) {
      try {
        conditions = parseProfileFilter(filter);
      } catch (error) {
        if (!(error instanceof FilterError)) throw error;
        throw new KlaviyoApiError(400, `Invalid filter provided: ${error.message}.`, { parameter: 'filter' });
      }
    }
    const matching = store.sortedProfiles().filter((profile) => matchesAll(profile, conditions));
    return json(200, {
      data: matching
        .slice(offset, offset + size)
        .map((profile) => renderProfile(profile, context.base, fields, kept)),
      links: pageLinks(context, offset, size, matching.length),
    });
  };

  return [
    route('profile-import', 'POST', '/api/profile-import', profileImport, {
      maxBytes: KLAVIYO_LIMITS.profileBytes,
    }),
    route('profiles', 'GET', '/api/profiles', getProfiles),
    route('profile', 'GET', '/api/profiles/{id}', getProfile),
    route('profile-update', 'PATCH', '/api/profiles/{id}', updateProfile, {
      maxBytes: KLAVIYO_LIMITS.profileBytes,
    }),
  ];
}
