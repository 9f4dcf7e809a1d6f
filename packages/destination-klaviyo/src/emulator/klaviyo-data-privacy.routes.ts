import type { SandboxResponse } from '@tessera/destination-kit';
import { KlaviyoApiError } from './klaviyo-errors';
import { route, type Route, type RouteContext } from './klaviyo-routing';
import { bodyChecker, deletionSchema } from './klaviyo-schemas';
import { checkIdentifiers, iso, type KlaviyoStore } from './klaviyo-store';

/* Data privacy: a deletion job erases every profile matching one identifier (id, email or phone number). */

interface DeletionDocument {
  data: {
    type: string;
    attributes: {
      profile: {
        data: {
          type: 'profile';
          id?: string | null;
          attributes: { email?: string | null; phone_number?: string | null };
        };
      };
    };
  };
}

const checkDeletion = bodyChecker<DeletionDocument>(deletionSchema);

export function dataPrivacyRoutes(store: KlaviyoStore): Route[] {
  const deleteProfile = (context: RouteContext): SandboxResponse => {
    const document = checkDeletion(context.body);
    const data = document.data.attributes.profile.data;
    const pointer = '/data/attributes/profile/data';
    const identifier: { id?: string; email?: string; phone_number?: string } = {};
    if (data.id) identifier.id = data.id;
    if (data.attributes.email) identifier.email = data.attributes.email;
    if (data.attributes.phone_number) identifier.phone_number = data.attributes.phone_number;
    if (Object.keys(identifier).length !== 1) {
      throw new KlaviyoApiError(400, 'Exactly one of id, email or phone_number must be provided.', {
        pointer,
      });
    }
    checkIdentifiers(data.attributes, pointer);
    const matching = [...store.profiles.values()].filter(
      (profile) =>
        (identifier.id !== undefined && profile.id === identifier.id) ||
        (identifier.email !== undefined && profile.email === identifier.email.toLowerCase()) ||
        (identifier.phone_number !== undefined && profile.phone_number === identifier.phone_number),
    );
    for (const profile of matching) store.deleteProfile(profile.id);
    store.deletions.push({
      identifier,
      profile_ids: matching.map((profile) => profile.id),
      requested_at: iso(context.now),
    });
    return { status: 202 };
  };

  return [route('deletion', 'POST', '/api/data-privacy-deletion-jobs', deleteProfile)];
}
