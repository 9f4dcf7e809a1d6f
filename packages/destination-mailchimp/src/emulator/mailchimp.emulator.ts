import type { EmulatorTools, EspEmulator, SandboxRequest, SandboxResponse } from '@tessera/destination-kit';
import { MAILCHIMP_API_VERSION } from '../api-version';
import { PING_PATH } from '../mailchimp.destination';
import {
  UPSERT_PROFILES_MAX_BATCH,
  UPSERT_PROFILES_PATH,
  UPSERT_PROFILES_RATE_LIMITS,
  type UpsertProfilesResponse,
} from '../requests/upsert-profiles.request';

/** A profile as the emulator holds it. */
export interface MailchimpStoredProfile {
  id: string;
  external_id: string;
  email?: string;
  phone?: string;
  properties: Record<string, unknown>;
}

export interface MailchimpEmulatorState {
  profiles: MailchimpStoredProfile[];
}

/** A validated profile from an upsert body. */
type ProfileInput = Omit<MailchimpStoredProfile, 'id'>;

/**
 * A local stand-in for Mailchimp, mounted by the sandbox at `/sandbox/mailchimp`. It speaks the API the
 * destination calls — the bearer key, the pinned version header, the body shape and its limits, the rate
 * limit with Retry-After — and answers errors in Mailchimp's shape, `{ errors: [{ code, message }] }`.
 *
 * TODO(mailchimp): mirror Mailchimp's real behaviour (paths, validation messages, merge rules).
 */
export class MailchimpEmulator implements EspEmulator {
  readonly esp = 'mailchimp';
  private profiles = new Map<string, MailchimpStoredProfile>();
  private nextId = 1;

  handle(request: SandboxRequest, tools: EmulatorTools): SandboxResponse {
    const refused = this.authenticate(request);
    if (refused !== undefined) return refused;
    if (request.method === 'GET' && request.path === PING_PATH) {
      return { status: 200, body: { ok: true, api_version: MAILCHIMP_API_VERSION } };
    }
    if (request.method === 'POST' && request.path === UPSERT_PROFILES_PATH) {
      const waitMs = tools.rateLimit('upsert-profiles', UPSERT_PROFILES_RATE_LIMITS);
      if (waitMs !== undefined) {
        const seconds = Math.max(1, Math.ceil(waitMs / 1000));
        const response = this.errorResponse(429, `Rate limit exceeded; retry in ${seconds} second(s)`);
        return { ...response, headers: { ...response.headers, 'retry-after': String(seconds) } };
      }
      return this.upsertProfiles(request);
    }
    return this.errorResponse(404, `No route ${request.method} ${request.path}`);
  }

  errorResponse(status: number, message: string): SandboxResponse {
    return {
      status,
      headers: { 'content-type': 'application/json' },
      body: { errors: [{ code: errorCode(status), message }] },
    };
  }

  state(): MailchimpEmulatorState {
    return { profiles: [...this.profiles.values()].map((profile) => structuredClone(profile)) };
  }

  reset(): void {
    this.profiles.clear();
    this.nextId = 1;
  }

  private authenticate(request: SandboxRequest): SandboxResponse | undefined {
    const match = /^Bearer (\S+)$/.exec(request.headers['authorization'] ?? '');
    if (match === null)
      return this.errorResponse(401, 'Missing or malformed API key (Authorization: Bearer <key>)');
    const version = request.headers['x-api-version'];
    if (version !== MAILCHIMP_API_VERSION) {
      return this.errorResponse(
        400,
        `Unsupported x-api-version ${JSON.stringify(version ?? null)}; supported: ${MAILCHIMP_API_VERSION}`,
      );
    }
    return undefined;
  }

  private upsertProfiles(request: SandboxRequest): SandboxResponse {
    if (!/^application\/json\b/i.test(request.headers['content-type'] ?? '')) {
      return this.errorResponse(415, 'Content-Type must be application/json');
    }
    const parsed = parseProfiles(request.rawBody);
    if (typeof parsed === 'string') return this.errorResponse(400, parsed);
    const results: UpsertProfilesResponse['results'] = parsed.map((input) => {
      const existing = this.profiles.get(input.external_id);
      const profile: MailchimpStoredProfile = {
        ...existing,
        ...input,
        id: existing?.id ?? `prof_${this.nextId++}`,
        properties: { ...existing?.properties, ...input.properties },
      };
      this.profiles.set(profile.external_id, profile);
      return { external_id: profile.external_id, id: profile.id };
    });
    return { status: 200, headers: { 'content-type': 'application/json' }, body: { results } };
  }
}

/** The profiles of an upsert body, or what is wrong with it. */
function parseProfiles(rawBody: Buffer): ProfileInput[] | string {
  let body: unknown;
  try {
    body = JSON.parse(rawBody.toString('utf8'));
  } catch {
    return 'Body must be JSON';
  }
  const profiles = isRecord(body) ? body['profiles'] : undefined;
  if (!Array.isArray(profiles)) return 'Body must be an object with a "profiles" array';
  if (profiles.length === 0 || profiles.length > UPSERT_PROFILES_MAX_BATCH) {
    return `"profiles" must hold 1 to ${UPSERT_PROFILES_MAX_BATCH} profiles (got ${profiles.length})`;
  }
  const inputs: ProfileInput[] = [];
  for (const [index, profile] of profiles.entries()) {
    const at = `profiles[${index}]`;
    if (!isRecord(profile)) return `${at} must be an object`;
    const { external_id: externalId, email, phone, properties } = profile;
    if (typeof externalId !== 'string' || externalId === '') {
      return `${at}.external_id must be a non-empty string`;
    }
    if (email !== undefined && (typeof email !== 'string' || !email.includes('@'))) {
      return `${at}.email must be an email address`;
    }
    if (phone !== undefined && typeof phone !== 'string') return `${at}.phone must be a string`;
    if (!isRecord(properties)) return `${at}.properties must be an object`;
    inputs.push({
      external_id: externalId,
      ...(email === undefined ? {} : { email }),
      ...(phone === undefined ? {} : { phone }),
      properties,
    });
  }
  return inputs;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function errorCode(status: number): string {
  switch (status) {
    case 400:
      return 'invalid_request';
    case 401:
      return 'unauthorized';
    case 404:
      return 'not_found';
    case 415:
      return 'unsupported_media_type';
    case 429:
      return 'rate_limited';
    default:
      return status >= 500 ? 'server_error' : 'error';
  }
}
