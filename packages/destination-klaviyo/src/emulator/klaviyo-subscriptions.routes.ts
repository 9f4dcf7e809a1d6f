import type { SandboxResponse } from '@tessera/destination-kit';
import { KLAVIYO_LIMITS } from '../klaviyo-endpoints';
import { KlaviyoApiError } from './klaviyo-errors';
import { json, route, type Route, type RouteContext, tooMany } from './klaviyo-routing';
import {
  bodyChecker,
  subscribeSchema,
  suppressSchema,
  unsubscribeSchema,
  unsuppressSchema,
} from './klaviyo-schemas';
import {
  checkIdentifiers,
  iso,
  type ChannelConsent,
  type KlaviyoStore,
  type ProfileRecord,
} from './klaviyo-store';

/* Marketing consent: bulk subscribe and unsubscribe jobs, and email suppressions (bulk create and delete). */

interface ConsentInput {
  consent: string;
  consented_at?: string | null;
}
interface ChannelsInput {
  email?: { marketing?: ConsentInput | null } | null;
  sms?: { marketing?: ConsentInput | null } | null;
}
interface SubscriptionDocument {
  data: {
    type: string;
    attributes: {
      historical_import?: boolean | null;
      profiles: {
        data: Array<{
          type: 'profile';
          id?: string | null;
          attributes: { email?: string | null; phone_number?: string | null; subscriptions: ChannelsInput };
        }>;
      };
    };
    relationships?: { list?: { data?: { type: 'list'; id: string } } };
  };
}
interface SuppressionDocument {
  data: {
    type: string;
    attributes: { profiles?: { data: Array<{ type: 'profile'; attributes: { email: string } }> } | null };
    relationships?: {
      list?: { data?: { type: 'list'; id: string } };
      segment?: { data?: { type: 'segment'; id: string } };
    };
  };
}

const checkSubscribe = bodyChecker<SubscriptionDocument>(subscribeSchema);
const checkUnsubscribe = bodyChecker<SubscriptionDocument>(unsubscribeSchema);
const checkSuppress = bodyChecker<SuppressionDocument>(suppressSchema);
const checkUnsuppress = bodyChecker<SuppressionDocument>(unsuppressSchema);

const MAX_SUBSCRIBE = KLAVIYO_LIMITS.subscribeProfiles;
const MAX_UNSUBSCRIBE = KLAVIYO_LIMITS.unsubscribeProfiles;
const MAX_SUPPRESS = KLAVIYO_LIMITS.suppressionProfiles;

/** Whether a subscription channel entry asks for marketing consent. */
function wantsMarketing(
  channel: { marketing?: ConsentInput | null } | null | undefined,
): ConsentInput | undefined {
  return channel?.marketing ?? undefined;
}

export class SubscriptionRoutes {
  constructor(private readonly store: KlaviyoStore) {}

  routes(): Route[] {
    return [
      route('subscribe', 'POST', '/api/profile-subscription-bulk-create-jobs', (c) => this.subscribe(c)),
      route('unsubscribe', 'POST', '/api/profile-subscription-bulk-delete-jobs', (c) => this.unsubscribe(c)),
      route('suppress', 'POST', '/api/profile-suppression-bulk-create-jobs', (c) =>
        this.suppression(c, 'suppress'),
      ),
      route('unsuppress', 'POST', '/api/profile-suppression-bulk-delete-jobs', (c) =>
        this.suppression(c, 'unsuppress'),
      ),
    ];
  }

  private requireList(id: string | undefined): ReturnType<KlaviyoStore['lists']['get']> {
    if (id === undefined) return undefined;
    const list = this.store.lists.get(id);
    if (list === undefined) throw new KlaviyoApiError(404, `A list with id '${id}' does not exist.`);
    return list;
  }

  /**
   * Resolves the profile a subscription entry is about (id, then email, then phone), or undefined when it
   * is new. Throws 409 when the email and phone number belong to different profiles.
   */
  private resolveSubscriber(
    entry: { id?: string | null; attributes: { email?: string | null; phone_number?: string | null } },
    pointer: string,
  ): ProfileRecord | undefined {
    const { email, phone_number: phone } = entry.attributes;
    if (entry.id !== undefined && entry.id !== null) {
      const profile = this.store.profiles.get(entry.id);
      if (profile === undefined) {
        throw new KlaviyoApiError(400, `A profile with id '${entry.id}' does not exist.`, {
          pointer: `${pointer}/id`,
        });
      }
      return profile;
    }
    const byEmail = email ? this.store.findBy('email', email) : undefined;
    const byPhone = phone ? this.store.findBy('phone_number', phone) : undefined;
    if (byEmail !== undefined && byPhone !== undefined && byEmail !== byPhone) {
      throw new KlaviyoApiError(
        409,
        'A profile already exists with one of these identifiers.',
        { pointer: `${pointer}/attributes` },
        { code: 'duplicate_profile', meta: { duplicate_profile_id: byPhone.id } },
      );
    }
    return byEmail ?? byPhone;
  }

  /** A profile created earlier in the same request (the same address listed twice). */
  private existingSubscriber(entry: {
    attributes: { email?: string | null; phone_number?: string | null };
  }): ProfileRecord | undefined {
    const { email, phone_number: phone } = entry.attributes;
    const byEmail = email ? this.store.findBy('email', email) : undefined;
    return byEmail ?? (phone ? this.store.findBy('phone_number', phone) : undefined);
  }

  private subscribe(context: RouteContext): SandboxResponse {
    tooMany(context.body, ['data', 'attributes', 'profiles', 'data'], MAX_SUBSCRIBE, 'profiles');
    const document = checkSubscribe(context.body);
    const list = this.requireList(document.data.relationships?.list?.data?.id);
    const historical = document.data.attributes.historical_import === true;
    const entries = document.data.attributes.profiles.data;
    // Validate every entry before changing anything: Klaviyo rejects the whole request.
    const targets = entries.map((entry, index) => {
      const pointer = `/data/attributes/profiles/data/${index}`;
      checkIdentifiers(entry.attributes, pointer);
      const profile = this.resolveSubscriber(entry, pointer);
      const email = entry.attributes.email ?? profile?.email ?? null;
      const phone = entry.attributes.phone_number ?? profile?.phone_number ?? null;
      const emailConsent = wantsMarketing(entry.attributes.subscriptions.email);
      const smsConsent = wantsMarketing(entry.attributes.subscriptions.sms);
      if (emailConsent !== undefined && !email) {
        throw new KlaviyoApiError(400, 'An email address is required to subscribe to email marketing.', {
          pointer: `${pointer}/attributes/email`,
        });
      }
      if (smsConsent !== undefined && !phone) {
        throw new KlaviyoApiError(400, 'A phone number is required to subscribe to SMS marketing.', {
          pointer: `${pointer}/attributes/phone_number`,
        });
      }
      for (const [channel, consent] of [
        ['email', emailConsent],
        ['sms', smsConsent],
      ] as const) {
        if (consent === undefined || !historical) continue;
        const at = consent.consented_at ? Date.parse(consent.consented_at) : NaN;
        if (!(at <= context.now)) {
          throw new KlaviyoApiError(
            400,
            'consented_at is required and must be in the past for a historical import.',
            {
              pointer: `${pointer}/attributes/subscriptions/${channel}/marketing/consented_at`,
            },
          );
        }
      }
      return { entry, profile, emailConsent, smsConsent };
    });
    const at = iso(context.now);
    for (const { entry, profile: found, emailConsent, smsConsent } of targets) {
      const profile = found ?? this.existingSubscriber(entry) ?? this.store.newProfile(context.now);
      this.store.fillIdentifiers(profile, entry.attributes);
      if (emailConsent !== undefined)
        subscribeChannel(profile.subscriptions.email.marketing, emailConsent, at);
      if (smsConsent !== undefined) subscribeChannel(profile.subscriptions.sms.marketing, smsConsent, at);
      list?.profileIds.add(profile.id);
      profile.updated = at;
    }
    return { status: 202 };
  }

  private unsubscribe(context: RouteContext): SandboxResponse {
    tooMany(context.body, ['data', 'attributes', 'profiles', 'data'], MAX_UNSUBSCRIBE, 'profiles');
    const document = checkUnsubscribe(context.body);
    const list = this.requireList(document.data.relationships?.list?.data?.id);
    const targets = document.data.attributes.profiles.data.map((entry, index) => {
      const pointer = `/data/attributes/profiles/data/${index}`;
      checkIdentifiers(entry.attributes, pointer);
      const emailChange = wantsMarketing(entry.attributes.subscriptions.email);
      const smsChange = wantsMarketing(entry.attributes.subscriptions.sms);
      if (emailChange !== undefined && !entry.attributes.email) {
        throw new KlaviyoApiError(400, 'An email address is required to unsubscribe from email marketing.', {
          pointer: `${pointer}/attributes/email`,
        });
      }
      if (smsChange !== undefined && !entry.attributes.phone_number) {
        throw new KlaviyoApiError(400, 'A phone number is required to unsubscribe from SMS marketing.', {
          pointer: `${pointer}/attributes/phone_number`,
        });
      }
      return { entry, profile: this.resolveSubscriber(entry, pointer), emailChange, smsChange };
    });
    for (const { entry, profile: found, emailChange, smsChange } of targets) {
      // Klaviyo records the unsubscribe even for an address it has not seen yet.
      const profile = found ?? this.existingSubscriber(entry) ?? this.store.newProfile(context.now);
      this.store.fillIdentifiers(profile, entry.attributes);
      if (emailChange !== undefined) unsubscribeChannel(profile.subscriptions.email.marketing, context.now);
      if (smsChange !== undefined) unsubscribeChannel(profile.subscriptions.sms.marketing, context.now);
      list?.profileIds.delete(profile.id);
      profile.updated = iso(context.now);
    }
    return { status: 202 };
  }

  private suppression(context: RouteContext, action: 'suppress' | 'unsuppress'): SandboxResponse {
    tooMany(context.body, ['data', 'attributes', 'profiles', 'data'], MAX_SUPPRESS, 'profiles');
    const document = action === 'suppress' ? checkSuppress(context.body) : checkUnsuppress(context.body);
    const entries = document.data.attributes.profiles?.data ?? [];
    const relationships = document.data.relationships ?? {};
    const list = this.requireList(relationships.list?.data?.id);
    const segment = relationships.segment?.data?.id;
    if (segment !== undefined)
      throw new KlaviyoApiError(404, `A segment with id '${segment}' does not exist.`);
    if (entries.length === 0 && list === undefined) {
      throw new KlaviyoApiError(400, 'Provide profiles, a list or a segment.', {
        pointer: '/data/attributes/profiles',
      });
    }
    entries.forEach((entry, index) =>
      checkIdentifiers(entry.attributes, `/data/attributes/profiles/data/${index}`),
    );
    const emails = [
      ...entries.map((entry) => entry.attributes.email.toLowerCase()),
      ...[...(list?.profileIds ?? [])].flatMap((id) => this.store.profiles.get(id)?.email ?? []),
    ];
    const at = iso(context.now);
    let skipped = 0;
    for (const email of emails) {
      let profile = this.store.findBy('email', email);
      const marketing = profile?.subscriptions.email.marketing;
      const suppressed = marketing?.suppression.some((entry) => entry.reason === 'USER_SUPPRESSED') ?? false;
      if (action === 'suppress' && !suppressed) {
        if (profile === undefined) {
          profile = this.store.newProfile(context.now);
          this.store.fillIdentifiers(profile, { email });
        }
        profile.subscriptions.email.marketing.suppression.push({ reason: 'USER_SUPPRESSED', timestamp: at });
        profile.subscriptions.email.marketing.last_updated = at;
        profile.updated = at;
      } else if (action === 'unsuppress' && profile !== undefined && suppressed) {
        profile.subscriptions.email.marketing.suppression =
          profile.subscriptions.email.marketing.suppression.filter(
            (entry) => entry.reason !== 'USER_SUPPRESSED',
          );
        profile.subscriptions.email.marketing.last_updated = at;
        profile.updated = at;
      } else {
        skipped++;
      }
    }
    // Applied at once, so the job Klaviyo returns is already complete.
    const type =
      action === 'suppress' ? 'profile-suppression-bulk-create-job' : 'profile-suppression-bulk-delete-job';
    const id = this.store.newJobId();
    const self = `${context.base}${context.request.path}/${id}/`;
    return json(202, {
      data: {
        type,
        id,
        attributes: {
          status: 'complete',
          created_at: at,
          total_count: emails.length,
          completed_count: emails.length - skipped,
          completed_at: at,
          skipped_count: skipped,
        },
        links: { self },
      },
      links: { self },
    });
  }
}

function subscribeChannel(channel: ChannelConsent, consent: ConsentInput, at: string): void {
  channel.consent = 'SUBSCRIBED';
  channel.consented_at = consent.consented_at ?? at;
  channel.last_updated = at;
  // Subscribing lifts UNSUBSCRIBE, SPAM_COMPLAINT and USER_SUPPRESSED suppressions (not bounces).
  channel.suppression = channel.suppression.filter(
    (entry) => entry.reason === 'HARD_BOUNCE' || entry.reason === 'INVALID_EMAIL',
  );
}

/**
 * Consent only: the emulator keeps `suppression` for USER_SUPPRESSED (and bounces), so an unsubscribe does not
 * add an UNSUBSCRIBE suppression entry (Klaviyo itself also lists one; see the report).
 */
export function unsubscribeChannel(channel: ChannelConsent, now: number): void {
  const at = iso(now);
  channel.consent = 'UNSUBSCRIBED';
  channel.last_updated = at;
}
