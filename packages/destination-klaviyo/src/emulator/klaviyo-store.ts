import { createHash } from 'node:crypto';
import { isValidPhoneNumber } from 'libphonenumber-js/max';
import { KlaviyoApiError } from './klaviyo-errors';

/* The emulator's in-memory Klaviyo account: profiles, lists, bulk import jobs, import errors and deletions. */

export type Consent = 'SUBSCRIBED' | 'UNSUBSCRIBED' | 'NEVER_SUBSCRIBED';

export interface Suppression {
  reason: 'USER_SUPPRESSED' | 'UNSUBSCRIBE' | 'SPAM_COMPLAINT' | 'HARD_BOUNCE' | 'INVALID_EMAIL';
  timestamp: string;
}

/** One channel's marketing consent as the emulator keeps it. */
export interface ChannelConsent {
  consent: Consent;
  consented_at: string | null;
  last_updated: string | null;
  suppression: Suppression[];
}

export type ProfileLocation = Record<string, string | number | null>;

export interface ProfileRecord {
  id: string;
  email: string | null;
  phone_number: string | null;
  external_id: string | null;
  first_name: string | null;
  last_name: string | null;
  organization: string | null;
  locale: string | null;
  title: string | null;
  image: string | null;
  location: ProfileLocation | null;
  properties: Record<string, unknown>;
  created: string;
  updated: string;
  subscriptions: { email: { marketing: ChannelConsent }; sms: { marketing: ChannelConsent } };
}

export interface ListRecord {
  id: string;
  name: string;
  created: string;
  updated: string;
  profileIds: Set<string>;
}

export interface ImportErrorRecord {
  type: 'import-error';
  id: string;
  attributes: {
    code: string;
    title: string;
    detail: string;
    source: { pointer: string };
    original_payload: unknown;
  };
}

export interface JobRecord {
  id: string;
  status: 'queued' | 'processing' | 'complete';
  created_at: string;
  createdMs: number;
  started_at: string | null;
  completed_at: string | null;
  expires_at: string;
  total_count: number;
  completed_count: number;
  failed_count: number;
  list_ids: string[];
  profile_ids: string[];
  /** The profiles still to apply; dropped once the job completes. */
  pending: ProfileUpsertInput[] | null;
}

export interface DeletionRecord {
  identifier: { id?: string; email?: string; phone_number?: string };
  profile_ids: string[];
  requested_at: string;
}

/** Attributes accepted by profile-import, the bulk import and PATCH (after schema validation). */
export interface ProfileAttributesInput {
  email?: string | null;
  phone_number?: string | null;
  external_id?: string | null;
  _kx?: string | null;
  first_name?: string | null;
  last_name?: string | null;
  organization?: string | null;
  locale?: string | null;
  title?: string | null;
  image?: string | null;
  location?: ProfileLocation | null;
  properties?: Record<string, unknown> | null;
}

export interface ProfileMetaInput {
  patch_properties?: {
    append?: Record<string, unknown> | null;
    unappend?: Record<string, unknown> | null;
    unset?: string | string[] | null;
  } | null;
  patch_identifiers?: Record<string, unknown> | null;
}

export interface ProfileUpsertInput {
  type: 'profile';
  id?: string | null;
  attributes: ProfileAttributesInput;
  meta?: ProfileMetaInput | null;
}

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** A 26-character ULID-looking id: `01`, a kind letter, then the counter in Crockford base32 (sortable). */
function ulidLike(kind: string, n: number): string {
  let digits = '';
  let rest = n;
  do {
    digits = CROCKFORD.charAt(rest % 32) + digits;
    rest = Math.floor(rest / 32);
  } while (rest > 0);
  return `01${kind}${digits.padStart(23, '0')}`;
}

export const iso = (ms: number): string => new Date(ms).toISOString();

/** A simple RFC-5322-ish check: one @, no spaces, a dotted domain, at most 254 characters. */
export function isValidEmail(email: string): boolean {
  return email.length <= 254 && /^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$/.test(email);
}

/** Klaviyo takes phone numbers in E.164 only: a `+`, then a number libphonenumber considers valid. */
export function isValidE164(phone: string): boolean {
  return /^\+[1-9]\d{6,14}$/.test(phone) && isValidPhoneNumber(phone);
}

function neverSubscribed(): ChannelConsent {
  return { consent: 'NEVER_SUBSCRIBED', consented_at: null, last_updated: null, suppression: [] };
}

export class KlaviyoStore {
  readonly profiles = new Map<string, ProfileRecord>();
  /**
   * Profile ids by identifier value: a lookup scanned every profile (a fifth of the sandbox's CPU at 20,000
   * profiles). Entries may outlive a change (checked on read), never miss one: every identifier write indexes.
   */
  private readonly byIdentifier = {
    email: new Map<string, Set<string>>(),
    phone_number: new Map<string, Set<string>>(),
    external_id: new Map<string, Set<string>>(),
  };
  readonly lists = new Map<string, ListRecord>();
  readonly jobs = new Map<string, JobRecord>();
  readonly importErrors = new Map<string, ImportErrorRecord[]>();
  readonly deletions: DeletionRecord[] = [];
  requests = 0;
  /** The last time the emulator saw (from the sandbox clock); helpers without a clock use it. */
  lastNow = Date.now();
  private profileSeq = 0;
  private jobSeq = 0;
  private listSeq = 0;
  private errorSeq = 0;

  constructor(private seedLists: ReadonlyArray<{ id: string; name: string }> = []) {
    this.reset();
  }

  /** Lists that exist from now on and after every reset (created at once when missing; others are kept). */
  setSeedLists(lists: ReadonlyArray<{ id: string; name: string }>): void {
    this.seedLists = lists.map((list) => ({ ...list }));
    const at = iso(this.lastNow);
    for (const list of this.seedLists) {
      const existing = this.lists.get(list.id);
      if (existing !== undefined) existing.name = list.name;
      else this.lists.set(list.id, { ...list, created: at, updated: at, profileIds: new Set() });
    }
  }

  get configuredLists(): Array<{ id: string; name: string }> {
    return this.seedLists.map((list) => ({ ...list }));
  }

  reset(): void {
    this.profiles.clear();
    for (const index of Object.values(this.byIdentifier)) index.clear();
    this.lists.clear();
    this.jobs.clear();
    this.importErrors.clear();
    this.deletions.length = 0;
    this.requests = 0;
    this.profileSeq = 0;
    this.jobSeq = 0;
    this.listSeq = 0;
    this.errorSeq = 0;
    const at = iso(this.lastNow);
    for (const list of this.seedLists) {
      this.lists.set(list.id, {
        id: list.id,
        name: list.name,
        created: at,
        updated: at,
        profileIds: new Set(),
      });
    }
  }

  newJobId(): string {
    return ulidLike('J', ++this.jobSeq);
  }

  newImportErrorId(): string {
    return ulidLike('E', ++this.errorSeq);
  }

  /** Klaviyo list ids are six alphanumerics (`Y6nRLr`): derive them from a counter so they repeat per run. */
  newListId(): string {
    for (;;) {
      const digest = createHash('sha256').update(`list:${++this.listSeq}`).digest();
      let id = '';
      for (let i = 0; i < 6; i++) id += ALPHANUMERIC.charAt((digest[i] ?? 0) % ALPHANUMERIC.length);
      if (!this.lists.has(id)) return id;
    }
  }

  createList(name: string, now: number): ListRecord {
    const at = iso(now);
    const list: ListRecord = { id: this.newListId(), name, created: at, updated: at, profileIds: new Set() };
    this.lists.set(list.id, list);
    return list;
  }

  findBy(field: 'email' | 'phone_number' | 'external_id', value: string): ProfileRecord | undefined {
    const wanted = field === 'email' ? value.toLowerCase() : value;
    const ids = this.byIdentifier[field].get(wanted);
    if (ids === undefined) return undefined;
    for (const id of ids) {
      const profile = this.profiles.get(id);
      if (profile !== undefined && profile[field] === wanted) return profile;
      ids.delete(id);
    }
    return undefined;
  }

  /** Sets a subscriber's email and phone number where the profile has none yet (subscribe, unsubscribe). */
  fillIdentifiers(
    profile: ProfileRecord,
    given: { email?: string | null; phone_number?: string | null },
  ): void {
    if (given.email && profile.email === null) profile.email = given.email.toLowerCase();
    if (given.phone_number && profile.phone_number === null) profile.phone_number = given.phone_number;
    this.indexIdentifiers(profile);
  }

  private indexIdentifiers(profile: ProfileRecord): void {
    for (const field of ['email', 'phone_number', 'external_id'] as const) {
      const value = profile[field];
      if (value === null) continue;
      const index = this.byIdentifier[field];
      const ids = index.get(value);
      if (ids === undefined) index.set(value, new Set([profile.id]));
      else ids.add(profile.id);
    }
  }

  /** Sorted by id, which is also creation order. */
  sortedProfiles(): ProfileRecord[] {
    return [...this.profiles.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  }

  newProfile(now: number): ProfileRecord {
    const at = iso(now);
    const profile: ProfileRecord = {
      id: ulidLike('P', ++this.profileSeq),
      email: null,
      phone_number: null,
      external_id: null,
      first_name: null,
      last_name: null,
      organization: null,
      locale: null,
      title: null,
      image: null,
      location: null,
      properties: {},
      created: at,
      updated: at,
      subscriptions: { email: { marketing: neverSubscribed() }, sms: { marketing: neverSubscribed() } },
    };
    this.profiles.set(profile.id, profile);
    return profile;
  }

  /**
   * Creates or updates a profile the way profile-import does: matched by id, then email, phone number and
   * external id; a 409 `duplicate_profile` when the given identifiers belong to different profiles. `pointer`
   * is where the resource sits in the request (`/data`, or `/data/attributes/profiles/data/3` in a bulk job).
   * Validates everything before it changes anything.
   */
  upsertProfile(
    input: ProfileUpsertInput,
    now: number,
    pointer = '/data',
  ): { profile: ProfileRecord; created: boolean } {
    const attributes = input.attributes;
    checkIdentifiers(attributes, pointer);
    const id = input.id ?? undefined;
    const hasIdentifier =
      id !== undefined || [attributes.email, attributes.phone_number, attributes.external_id].some(isPresent);
    if (!hasIdentifier) {
      throw new KlaviyoApiError(
        400,
        'One of the identifiers email, phone_number, external_id or id is required.',
        { pointer: `${pointer}/attributes` },
      );
    }
    let byId: ProfileRecord | undefined;
    if (id !== undefined) {
      byId = this.profiles.get(id);
      if (byId === undefined) {
        throw new KlaviyoApiError(400, `A profile with id '${id}' does not exist.`, {
          pointer: `${pointer}/id`,
        });
      }
    }
    const owners = this.identifierOwners(attributes);
    const primary = byId ?? owners[0];
    this.checkDuplicates(primary, owners, pointer);
    const created = primary === undefined;
    const profile = primary ?? this.newProfile(now);
    applyAttributes(profile, attributes, input.meta ?? undefined);
    this.indexIdentifiers(profile);
    profile.updated = iso(now);
    return { profile, created };
  }

  /** PATCH /api/profiles/{id}: the same rules with the profile fixed by its id. */
  updateProfile(profile: ProfileRecord, input: ProfileUpsertInput, now: number): ProfileRecord {
    checkIdentifiers(input.attributes, '/data');
    this.checkDuplicates(profile, this.identifierOwners(input.attributes), '/data');
    applyAttributes(profile, input.attributes, input.meta ?? undefined);
    this.indexIdentifiers(profile);
    profile.updated = iso(now);
    return profile;
  }

  deleteProfile(id: string): void {
    this.profiles.delete(id);
    for (const list of this.lists.values()) list.profileIds.delete(id);
  }

  /** Profiles that currently hold the email, phone number or external id given (in that order). */
  private identifierOwners(attributes: ProfileAttributesInput): ProfileRecord[] {
    const owners: ProfileRecord[] = [];
    for (const field of ['email', 'phone_number', 'external_id'] as const) {
      const value = attributes[field];
      if (!isPresent(value)) continue;
      const owner = this.findBy(field, value);
      if (owner !== undefined) owners.push(owner);
    }
    return owners;
  }

  private checkDuplicates(
    primary: ProfileRecord | undefined,
    owners: ProfileRecord[],
    pointer: string,
  ): void {
    const other = owners.find((owner) => owner !== primary);
    if (primary === undefined || other === undefined) return;
    throw new KlaviyoApiError(
      409,
      'A profile already exists with one of these identifiers.',
      { pointer: `${pointer}/attributes` },
      { code: 'duplicate_profile', meta: { duplicate_profile_id: other.id } },
    );
  }
}

function isPresent(value: string | null | undefined): value is string {
  return typeof value === 'string' && value !== '';
}

/** Email and phone format checks with Klaviyo's pointers. */
export function checkIdentifiers(
  attributes: { email?: string | null; phone_number?: string | null },
  pointer: string,
): void {
  if (isPresent(attributes.email) && !isValidEmail(attributes.email)) {
    throw new KlaviyoApiError(400, `Invalid email address '${attributes.email}'.`, {
      pointer: `${pointer}/attributes/email`,
    });
  }
  if (isPresent(attributes.phone_number) && !isValidE164(attributes.phone_number)) {
    throw new KlaviyoApiError(
      400,
      `Invalid phone number format (Example of a valid format: +12345678901): '${attributes.phone_number}'.`,
      { pointer: `${pointer}/attributes/phone_number` },
    );
  }
}

const PLAIN_FIELDS = [
  'external_id',
  'first_name',
  'last_name',
  'organization',
  'locale',
  'title',
  'image',
] as const;

/** Given attributes overwrite (null clears); `properties` and `location` merge key by key (null removes a key). */
function applyAttributes(
  profile: ProfileRecord,
  attributes: ProfileAttributesInput,
  meta: ProfileMetaInput | undefined,
): void {
  if (attributes.email !== undefined)
    profile.email = isPresent(attributes.email) ? attributes.email.toLowerCase() : null;
  if (attributes.phone_number !== undefined)
    profile.phone_number = isPresent(attributes.phone_number) ? attributes.phone_number : null;
  for (const field of PLAIN_FIELDS) {
    const value = attributes[field];
    if (value !== undefined) profile[field] = value;
  }
  if (attributes.location === null) profile.location = null;
  else if (attributes.location !== undefined)
    profile.location = mergeRecord(profile.location ?? {}, attributes.location);
  if (attributes.properties === null) profile.properties = {};
  else if (attributes.properties !== undefined)
    profile.properties = mergeRecord(profile.properties, attributes.properties);
  const patch = meta?.patch_properties;
  if (patch === null || patch === undefined) return;
  for (const [key, value] of Object.entries(patch.append ?? {})) {
    const current = profile.properties[key];
    const list = Array.isArray(current)
      ? [...(current as unknown[])]
      : current === undefined
        ? []
        : [current];
    profile.properties[key] = list.concat(Array.isArray(value) ? value : [value]);
  }
  for (const [key, value] of Object.entries(patch.unappend ?? {})) {
    const current = profile.properties[key];
    if (!Array.isArray(current)) continue;
    const drop = Array.isArray(value) ? value : [value];
    profile.properties[key] = (current as unknown[]).filter((item) => !drop.includes(item));
  }
  const unset = patch.unset ?? [];
  for (const key of Array.isArray(unset) ? unset : [unset]) delete profile.properties[key];
}

function mergeRecord<T>(base: Record<string, T>, changes: Record<string, T | null>): Record<string, T> {
  const merged: Record<string, T> = { ...base };
  for (const [key, value] of Object.entries(changes)) {
    if (value === null) delete merged[key];
    else merged[key] = value;
  }
  return merged;
}

/** A plain-JSON copy of a job for `state()` (without the pending payload). */
export function jobState(job: JobRecord): Omit<JobRecord, 'pending' | 'createdMs'> {
  const { pending: _pending, createdMs: _createdMs, ...rest } = job;
  return { ...rest, list_ids: [...rest.list_ids], profile_ids: [...rest.profile_ids] };
}

/**
 * A profile as `findProfile` and `state()` hand it out: Klaviyo's resource shape (`type`, `id`, `attributes`),
 * with the subscription state under `attributes.subscriptions`, as plain JSON.
 */
export interface ProfileView {
  type: 'profile';
  id: string;
  attributes: Omit<ProfileRecord, 'id'>;
}

export function profileView(profile: ProfileRecord): ProfileView {
  const { id, ...attributes } = structuredClone(profile);
  return { type: 'profile', id, attributes };
}
