import type { EmulatorTools, EspEmulator, SandboxRequest, SandboxResponse } from '@tessera/destination-kit';
import { MAILCHIMP_API_ROOT, MAILCHIMP_LIMITS } from '../mailchimp-endpoints';
import { subscriberHash } from '../requests/member-identity';
import {
  type Audience,
  batchMembers,
  deletePermanent,
  archiveMember,
  getMember,
  type KeptMember,
  type MailchimpStoredMember,
  type MailchimpStoredSegment,
  newAudience,
  putMember,
  type Status,
  storedMember,
} from './audience-members';
import {
  addSegment,
  changeMemberTags,
  changeStaticSegment,
  createSegment,
  searchTags,
} from './audience-segments';
import { type MailchimpEmulatorConfig, parseMailchimpEmulatorConfig } from './emulator-configuration';
import { listWebhookBody, mergeEntries } from './list-webhook-body';
import {
  allow,
  json,
  mailchimpTime,
  notFound,
  parseBody,
  Problem,
  problem,
  titleOf,
} from './problem-responses';

export type { MailchimpStoredMember, MailchimpStoredSegment } from './audience-members';

export interface MailchimpEmulatorState {
  lists: Record<string, { members: MailchimpStoredMember[]; segments: MailchimpStoredSegment[] }>;
  /** Members deleted with delete-permanent, in order. */
  deletions: { list_id: string; id: string; email_address: string }[];
}

export interface MailchimpEmulatorOptions {
  /** The only API key accepted; any key when unset. */
  apiKey?: string;
  /** How long every request is held before it is answered (lets tests overlap requests). Default 0. */
  responseDelayMs?: number;
  /** Simultaneous requests allowed per API key before 429 (Mailchimp: 10). */
  maxConnections?: number;
}

/**
 * The largest body the emulator takes. Mailchimp publishes no request size limit for the Marketing API; a full
 * batch of 500 members with a dozen merge fields each is well under 1 MiB, so 2 MiB refuses only the absurd.
 */
export const MAILCHIMP_EMULATOR_MAX_BODY_BYTES = 2 * 1024 * 1024;

const FIRST_SEGMENT_ID = 1001;

/** The first segment id above every configured one (ids are account-wide in Mailchimp). */
function firstFreeSegmentId(config: MailchimpEmulatorConfig): number {
  const ids = config.audiences.flatMap((audience) =>
    (audience.staticSegments ?? []).map(({ id }) => Number(id)),
  );
  return Math.max(FIRST_SEGMENT_ID, ...ids.map((id) => id + 1));
}

/**
 * A local stand-in for the Mailchimp Marketing API 3.0, mounted by the sandbox at `/sandbox/mailchimp`. It knows
 * the audiences and merge fields it is configured with (`configure`), and nothing else: an unknown audience is
 * 404 and a merge tag the audience lacks is refused. It checks HTTP basic auth (401), holds at most 10 requests
 * in flight per key (the 11th is answered 429), validates bodies against Mailchimp's published schemas (400
 * "Invalid Resource" with `errors[{field, message}]`, at most 500 members per batch and per segment call), refuses
 * members like Mailchimp does (fake addresses, permanently deleted ones, re-subscribing a cleaned one), and keeps
 * members and static segments (tags) per audience. Errors use Mailchimp's problem-detail shape.
 */
export class MailchimpEmulator implements EspEmulator {
  readonly esp = 'mailchimp';
  readonly maxBodyBytes = MAILCHIMP_EMULATOR_MAX_BODY_BYTES;
  private config: MailchimpEmulatorConfig = { audiences: [] };
  private audiences = new Map<string, Audience>();
  private deletions: MailchimpEmulatorState['deletions'] = [];
  private readonly inFlight = new Map<string, number>();
  private readonly peaks = new Map<string, number>();
  private nextSegmentId = FIRST_SEGMENT_ID;

  constructor(private readonly options: MailchimpEmulatorOptions = {}) {}

  /**
   * Sets the account's audiences, their merge fields and the static segments they start with (see
   * emulator-configuration.ts); throws an Error naming each problem. Audiences that stay keep their members and
   * tags.
   */
  configure(config: unknown): void {
    const parsed = parseMailchimpEmulatorConfig(config);
    const audiences = new Map<string, Audience>();
    for (const definition of parsed.audiences) {
      const kept = this.audiences.get(definition.id);
      const fresh = newAudience(definition);
      if (kept !== undefined) {
        for (const [id, segment] of fresh.segments)
          if (!kept.segments.has(id)) kept.segments.set(id, segment);
      }
      audiences.set(
        definition.id,
        kept === undefined ? fresh : { ...kept, definition, mergeFields: fresh.mergeFields },
      );
    }
    this.config = parsed;
    this.audiences = audiences;
    this.nextSegmentId = Math.max(this.nextSegmentId, firstFreeSegmentId(parsed));
  }

  configuration(): MailchimpEmulatorConfig {
    return structuredClone(this.config);
  }

  async handle(request: SandboxRequest, tools: EmulatorTools): Promise<SandboxResponse> {
    const key = this.apiKeyOf(request);
    if (typeof key !== 'string') return key;
    // Mailchimp's only throttle is the connection cap; it holds even when the sandbox lifts rate limits.
    const limit = this.options.maxConnections ?? MAILCHIMP_LIMITS.maxConnections;
    const active = this.inFlight.get(key) ?? 0;
    if (active >= limit) {
      return this.errorResponse(429, `You have exceeded the limit of ${limit} simultaneous connections.`);
    }
    this.inFlight.set(key, active + 1);
    this.peaks.set(key, Math.max(this.peaks.get(key) ?? 0, active + 1));
    try {
      const delay = this.options.responseDelayMs ?? 0;
      if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
      return this.route(request, tools);
    } catch (error) {
      if (!(error instanceof Problem)) throw error;
      return problem(error);
    } finally {
      const left = (this.inFlight.get(key) ?? 1) - 1;
      if (left === 0) this.inFlight.delete(key);
      else this.inFlight.set(key, left);
    }
  }

  errorResponse(status: number, message: string): SandboxResponse {
    return problem(new Problem(status, titleOf(status), message));
  }

  /** Request statistics group paths by template: the audience, member and segment ids become `{id}`. */
  endpointTemplate(_method: string, path: string): string | undefined {
    const root = `${MAILCHIMP_API_ROOT}/`;
    if (!path.startsWith(root)) return undefined;
    const parts = path.slice(root.length).replace(/\/$/, '').split('/');
    if (parts[0] !== 'lists') return `${MAILCHIMP_API_ROOT}/${parts.join('/')}`;
    const template = parts.map((part, index) =>
      index === 1 || (index === 3 && (parts[2] === 'members' || parts[2] === 'segments')) ? '{id}' : part,
    );
    return `${MAILCHIMP_API_ROOT}/${template.join('/')}`;
  }

  state(): MailchimpEmulatorState {
    const lists: MailchimpEmulatorState['lists'] = {};
    for (const [listId, audience] of this.audiences) {
      lists[listId] = {
        members: [...audience.members.values()].map((member) => storedMember(audience, member)),
        segments: structuredClone([...audience.segments.values()]),
      };
    }
    return structuredClone({ lists, deletions: this.deletions });
  }

  /** Forgets every member, tag and deletion; the configured audiences stay. */
  reset(): void {
    this.audiences = new Map(
      this.config.audiences.map((definition) => [definition.id, newAudience(definition)]),
    );
    this.deletions = [];
    this.inFlight.clear();
    this.peaks.clear();
    this.nextSegmentId = firstFreeSegmentId(this.config);
  }

  /** The member of `listId` with this address, if any. */
  member(listId: string, email: string): MailchimpStoredMember | undefined {
    const audience = this.configured(listId);
    const member = audience.members.get(subscriberHash(email));
    return member === undefined ? undefined : storedMember(audience, member);
  }

  /** Creates a static segment (as a marketer would in the Mailchimp app) and returns its id. */
  addStaticSegment(listId: string, name: string): string {
    return addSegment(this.configured(listId), name, this.newSegmentId()).id;
  }

  /** The marketer deletes a segment or tag in the Mailchimp app. */
  deleteSegmentInEsp(listId: string, segmentId: string): void {
    this.configured(listId).segments.delete(segmentId);
  }

  /** Most requests the key had in flight at once so far. */
  peakConnections(apiKey: string): number {
    return this.peaks.get(apiKey) ?? 0;
  }

  /**
   * The member unsubscribes in Mailchimp (an unsubscribe link, or the marketer in the app): the status changes
   * and the form body of the `unsubscribe` webhook Mailchimp would POST is returned.
   */
  unsubscribeInEsp(listId: string, email: string, atMs: number): Buffer {
    const member = this.changeStatus(listId, email, 'unsubscribed', atMs);
    return listWebhookBody('unsubscribe', atMs, {
      action: 'unsub',
      reason: 'manual',
      id: member.id.slice(0, 10),
      list_id: listId,
      email: member.email_address,
      email_type: 'html',
      ...mergeEntries(member.merge_fields),
      ip_opt: '198.51.100.7',
      campaign_id: 'cb398d21d2',
    });
  }

  /** Mailchimp cleans the address (a hard bounce or an abuse report) and returns the `cleaned` webhook body. */
  cleanInEsp(listId: string, email: string, reason: 'hard' | 'abuse', atMs: number): Buffer {
    const member = this.changeStatus(listId, email, 'cleaned', atMs);
    return listWebhookBody('cleaned', atMs, {
      list_id: listId,
      campaign_id: '4fjk2ma9xd',
      reason,
      email: member.email_address,
    });
  }

  /**
   * The marketer removes the contact from the audience in the Mailchimp app (it is no longer a member; unlike a
   * permanent deletion, the address may be added again).
   */
  removeInEsp(listId: string, email: string): void {
    const audience = this.configured(listId);
    const hash = subscriberHash(email);
    audience.members.delete(hash);
    for (const segment of audience.segments.values()) {
      segment.member_ids = segment.member_ids.filter((id) => id !== hash);
    }
  }

  private changeStatus(listId: string, email: string, status: Status, atMs: number): KeptMember {
    const audience = this.configured(listId);
    const hash = subscriberHash(email);
    const member = audience.members.get(hash) ?? {
      id: hash,
      email_address: email,
      status,
      merge_fields: {},
      last_changed: '',
    };
    member.status = status;
    member.last_changed = mailchimpTime(atMs);
    audience.members.set(hash, member);
    return member;
  }

  /** A configured audience, for the test helpers above: an unknown one is a mistake in the test. */
  private configured(listId: string): Audience {
    const audience = this.audiences.get(listId);
    if (audience === undefined) {
      const known = [...this.audiences.keys()];
      throw new Error(
        `The Mailchimp emulator has no audience "${listId}" (configured: ${known.length === 0 ? 'none' : known.join(', ')}): configure it first`,
      );
    }
    return audience;
  }

  private newSegmentId(): string {
    return String(this.nextSegmentId++);
  }

  /** The API key of the request's basic auth, or the 401 refusing it. */
  private apiKeyOf(request: SandboxRequest): string | SandboxResponse {
    const header = request.headers['authorization'];
    if (header === undefined || header.trim() === '') {
      return problem(new Problem(401, 'API Key Missing', 'Your request did not include an API key.'));
    }
    const encoded = /^Basic\s+(\S+)$/i.exec(header)?.[1];
    const decoded = encoded === undefined ? '' : Buffer.from(encoded, 'base64').toString('utf8');
    const separator = decoded.indexOf(':');
    const key = separator === -1 ? '' : decoded.slice(separator + 1);
    if (key === '' || (this.options.apiKey !== undefined && key !== this.options.apiKey)) {
      return problem(
        new Problem(
          401,
          'API Key Invalid',
          "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
        ),
      );
    }
    return key;
  }

  private route(request: SandboxRequest, tools: EmulatorTools): SandboxResponse {
    const root = `${MAILCHIMP_API_ROOT}/`;
    if (!request.path.startsWith(root)) throw notFound();
    const parts = request.path.slice(root.length).replace(/\/$/, '').split('/').map(decodeURIComponent);
    const method = request.method;
    const now = mailchimpTime(tools.clock.now());
    const [resource, listId, sub, id, action, actionName] = parts;
    if (parts.length === 1 && resource === 'ping') {
      allow(method, 'GET');
      return json(200, { health_status: "Everything's Chimpy!" });
    }
    if (resource !== 'lists' || listId === undefined || listId === '') throw notFound();
    const audience = this.audiences.get(listId);
    if (audience === undefined) throw notFound();
    const newId = (): string => this.newSegmentId();
    if (parts.length === 2) {
      allow(method, 'POST');
      return batchMembers(audience, parseBody(request), now);
    }
    if (parts.length === 3 && sub === 'tag-search') {
      allow(method, 'GET');
      return searchTags(audience, request.query.get('name'));
    }
    if (parts.length === 3 && sub === 'segments') {
      allow(method, 'POST');
      return createSegment(audience, parseBody(request), newId, now);
    }
    if (sub === 'segments' && id !== undefined && parts.length === 4) {
      allow(method, 'POST');
      return changeStaticSegment(audience, id, parseBody(request));
    }
    if (sub !== 'members' || id === undefined) throw notFound();
    if (parts.length === 4) {
      allow(method, 'GET', 'PUT', 'DELETE');
      if (method === 'DELETE') {
        archiveMember(audience, id, now);
        return { status: 204 };
      }
      return method === 'GET' ? getMember(audience, id) : putMember(audience, id, parseBody(request), now);
    }
    if (parts.length === 5 && action === 'tags') {
      allow(method, 'POST');
      return changeMemberTags(audience, id, parseBody(request), newId);
    }
    if (parts.length === 6 && action === 'actions' && actionName === 'delete-permanent') {
      allow(method, 'POST');
      const deleted = deletePermanent(audience, id);
      this.deletions.push({ list_id: listId, id, email_address: deleted.email_address });
      return { status: 204 };
    }
    throw notFound();
  }
}
