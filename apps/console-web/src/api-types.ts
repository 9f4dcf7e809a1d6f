// The shapes of the control-plane API, as docs/console-api.md describes them. Timestamps are ISO strings.
// Fields the contract leaves open are typed loosely (optional, or `unknown`) and shown as JSON.

/** The permission names of packages/control-plane's access policy; `GET /v1/session` lists a key's. */
export type Permission =
  | 'workspace.read'
  | 'workspace.write'
  | 'secrets.manage'
  | 'destinations.toggle'
  | 'destinations.pause'
  | 'mappings.write'
  | 'mappings.preview'
  | 'profiles.read'
  | 'profiles.merge'
  | 'pii.read'
  | 'dead-letters.read'
  | 'dead-letters.replay'
  | 'sources.hold'
  | 'reviews.read'
  | 'reviews.decide'
  | 'dsr.read'
  | 'dsr.write'
  | 'audit.read'
  | 'dashboard.read'
  | 'queues.read'
  | 'queues.operate';

export type Role = 'admin' | 'marketer' | 'operator' | 'auditor';
export const ROLES: readonly Role[] = ['admin', 'marketer', 'operator', 'auditor'];

export interface Session {
  keyId: string;
  name: string;
  role: Role;
  permissions: string[];
}

/** One problem the API found, at a JSON Pointer into what was sent. */
export interface ApiIssue {
  path: string;
  message: string;
  expression?: string;
}

export interface Brand {
  id: string;
  name: string;
  defaultCountry: string;
}

export interface SourceSecret {
  id: string;
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

export interface Source {
  id: string;
  brand: string;
  typeMap: Record<string, string>;
  rateLimit: number | null;
  held: boolean;
  holdReason: string | null;
  secrets: SourceSecret[];
}

export interface CreatedSource {
  source: Source;
  secret: string;
}

export interface RotatedSecret {
  secret: string;
  secretId: string;
  previousExpiresAt: string | null;
  /** The source after the rotation. */
  source: Source;
}

export interface DestinationType {
  type: string;
  title: string;
  selected: boolean;
  settingsSchema: unknown;
  secretSettings: string[];
  operations: string[];
}

export type DestinationState = 'enabled' | 'paused' | 'disabled';
export const DESTINATION_STATES: readonly DestinationState[] = ['enabled', 'paused', 'disabled'];

export interface Destination {
  id: string;
  brand: string;
  type: string;
  state: DestinationState;
  reason: string | null;
  changedBy: string | null;
  changedAt: string | null;
  authFailures: number;
  deadLetters: number;
  deployed: boolean;
  settings: Record<string, unknown>;
  plugins: { name: string; config: unknown }[];
  mappingsVersion: number;
}

/** A destination's rule set as the transform package reads it; edited as JSON text. */
export type Rules = Record<string, unknown>;

export interface Mappings {
  version: number;
  rules: Rules;
  savedAt: string | null;
  savedBy: string | null;
}

export interface RulesValidation {
  valid: boolean;
  errors: ApiIssue[];
}

export interface CloudEventInput {
  specversion?: string;
  type: string;
  source: string;
  id: string;
  data?: unknown;
  [attribute: string]: unknown;
}

export interface RecentEvent {
  sourceId: string;
  source: string;
  id: string;
  type: string;
  brand: string;
  receivedAt: string;
}

export interface PreviewRequest {
  destinationId: string;
  event?: CloudEventInput;
  recentEvent?: { sourceId?: string; source: string; id: string };
  rules?: Rules;
}

export interface PreviewOperation {
  operation: string;
  customerId: string;
  [field: string]: unknown;
}

export interface PreviewHttpRequest {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
}

export interface Preview {
  /** `masked`: the key may not read personal data, so the rules ran on placeholders of the same shape. */
  personalData: 'shown' | 'masked';
  /** The profile previewed on. */
  customerId?: string;
  operations: PreviewOperation[];
  requests: PreviewHttpRequest[];
  notes: string[];
}

export interface ProfileIdentifier {
  /** `customer_id`, `email`, `phone`, `loyalty_card`, `anonymous_id`, or `member` (with its brand). */
  type: string;
  /** Masked (`a***@example.com`) for roles without raw-PII access. */
  value: string;
  brand?: string;
  firstSeenAt?: string;
  lastSeenAt?: string;
  quarantined?: string | null;
}

/** One consent decision for a contact point of the profile and one brand, channel and purpose. */
export interface ConsentEntry {
  brand: string;
  channel: string;
  purpose: string;
  /** `granted` or `withdrawn`. */
  status: string;
  /** The contact point, masked unless the role reads raw PII. */
  subject: string;
  legalBasis?: string | null;
  capturedAt?: string | null;
}

/** One item sent (or not) to a destination for this customer, newest first. */
export interface ProfileDelivery {
  id: number;
  at: string;
  brand: string;
  destinationId: string;
  operation: string;
  itemKey: string;
  /** `delivered`, `rejected`, `dead_lettered` or `dropped`. */
  status: string;
  detail?: string;
  attempts: number;
  sourceId?: string;
  eventSource?: string;
  eventId?: string;
  customerId?: string;
}

export interface ProfileLookup {
  customerId: string;
  /** The customer id asked for, when it was merged into `customerId`. */
  requestedCustomerId?: string;
  version?: number;
  profile: unknown;
  identifiers: ProfileIdentifier[];
  /** Contact points this member shares with another member: held there, linking nothing here. */
  sharedContactPoints?: Array<
    Pick<
      SharedIdentifier,
      'type' | 'value' | 'heldBy' | 'anchor' | 'reason' | 'firstSeenAt' | 'lastSeenAt' | 'count'
    >
  >;
  lineage: unknown[];
  consent: ConsentEntry[];
  /** The newest events of the profile and of the profiles merged into it (references, no data). */
  history?: ProfileEvent[];
  deliveries: ProfileDelivery[];
}

export interface ProfileEvent {
  sourceId: string;
  source: string;
  id: string;
  type: string;
  brand: string;
  time: string | null;
  receivedAt: string;
  /** The profile the event resolved to (a merged-in one's id, for a linked guest's events). */
  customerId: string;
}

export type ErrorClass = 'validation' | 'auth' | 'retryable' | 'rejected';
export const ERROR_CLASSES: readonly ErrorClass[] = ['validation', 'auth', 'retryable', 'rejected'];

export interface DeadLetter {
  id: number | string;
  brand: string;
  destinationId: string;
  operation: string;
  itemKey?: string;
  sourceId?: string;
  eventSource?: string;
  eventId?: string;
  customerId?: string;
  errorClass: ErrorClass;
  error: string;
  espAnswer?: string;
  attempts: number;
  firstFailedAt?: string;
  lastFailedAt: string;
  replayedAt?: string | null;
  replayCount?: number;
  [field: string]: unknown;
}

export interface DeadLetterQuery {
  brand?: string;
  destination?: string;
  errorClass?: string;
  error?: string;
  includeReplayed?: boolean;
  limit?: number;
}

export interface ReplayOutcome {
  replayed: number;
  alreadyDelivered: number;
  /** Letters not sent: of erased people (deleted) or to suppressed contact points (discarded). */
  notSent: { erased: number; suppressed: number };
  /** Letters asked for that were no longer waiting (replayed or discarded before). */
  notWaiting: { id: number; replayedAt?: string }[];
  /** Waiting letters of destinations this deployment does not run: left waiting. */
  skipped: { destinationId: string; letters: number }[];
}

export interface DiscardOutcome {
  /** The ids discarded now. */
  discarded: number[];
  /** Ids asked for that were not waiting (unknown, replayed or discarded before). */
  notWaiting: number[];
}

/** A contact point two members share: held by one profile, linking nothing to the other. */
export interface SharedIdentifier {
  id: number;
  identifierId: number;
  type: string;
  label: string;
  value: string;
  subjectKey: string;
  customerId: string;
  heldBy: string;
  anchor: string;
  reason: string;
  firstSeenAt: string;
  lastSeenAt: string;
  count: number;
}

export interface Review {
  id: number | string;
  customerIds?: string[];
  score?: number;
  modelVersion?: string;
  comparisons?: unknown;
  status: string;
  createdAt?: string;
  decidedBy?: string | null;
  decidedAt?: string | null;
  [field: string]: unknown;
}

export type DsrType = 'access' | 'erasure';

/** `open` and `running` are not over yet; `completed` and `failed` are final. */
export type DsrStatus = 'open' | 'running' | 'completed' | 'failed';

export interface DsrRequest {
  id: string;
  type: DsrType;
  status: DsrStatus;
  customerIds: string[];
  requestedAt: string;
  dueAt: string | null;
  completedAt: string | null;
  requestedBy: string;
  /** The work's own record (subjects, deadlines, the export's file once written). */
  detail: Record<string, unknown> | null;
  /** Each destination's answer (`GET /v1/dsr/{id}` only). */
  destinations?: unknown[];
  [field: string]: unknown;
}

export interface DsrInput {
  type: DsrType;
  email?: string;
  phone?: string;
  customerId?: string;
}

export interface AuditEntry {
  id: number | string;
  at: string;
  actor: string;
  action: string;
  /** Absent for an act that concerns no one customer. */
  customerId?: string | null;
  /** `{entity, id, before, after}` for a change; other acts (e.g. `dsr.export`) record their own fields. */
  detail:
    ({ entity?: string; id?: string; before?: unknown; after?: unknown } & Record<string, unknown>) | null;
}

export interface ApiKey {
  id: string;
  name: string;
  role: Role;
  createdAt: string;
  createdBy: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

/** `key` is the secret (shown once); `apiKey` the stored record. */
export interface CreatedApiKey {
  key: string;
  apiKey: ApiKey;
}

// Dashboard figures: one sample, every 2 s on the stream.

export interface DeliveriesOfDestination {
  destinationId: string;
  ok: number;
  failed: number;
}

export interface FailuresByClass {
  validation: number;
  auth: number;
  retryable: number;
  rejected: number;
}

/** End-to-end latency quantiles, in seconds (null without deliveries in the window). */
export interface LatencyQuantiles {
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface QueueDepth {
  queue: string;
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
}

export interface PausedDestination {
  id: string;
  brand: string;
  reason: string | null;
  changedAt: string | null;
}

export interface DashboardFigures {
  at: string;
  eventsPerSecond: number;
  deliveriesByDestination: DeliveriesOfDestination[];
  failuresByClass: FailuresByClass;
  latency: LatencyQuantiles;
  queueDepths: QueueDepth[];
  deadLetters: number;
  /** Share (0–1) of updates at the ESP within 10 minutes (null without deliveries in the last hour). */
  withinTenMinutesShare: number | null;
  conflictingConsentProfiles: number;
  /** 0–1 (null while no profile holds a member id). */
  accountLinkRate: number | null;
  pausedDestinations: PausedDestination[];
}
