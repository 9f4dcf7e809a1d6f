import type {
  ApiIssue,
  ApiKey,
  AuditEntry,
  Brand,
  CreatedApiKey,
  CreatedSource,
  DashboardFigures,
  DeadLetter,
  DeadLetterQuery,
  DiscardOutcome,
  Destination,
  DestinationState,
  DestinationType,
  DsrInput,
  DsrRequest,
  Mappings,
  Preview,
  PreviewRequest,
  ProfileLookup,
  RecentEvent,
  ReplayOutcome,
  Review,
  Role,
  Rules,
  RulesValidation,
  RotatedSecret,
  Session,
  SharedIdentifier,
  Source,
} from './api-types';

/** A refusal of the API (`{error, message, errors?}` with its HTTP status), or a request that got no answer. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    message: string,
    readonly errors: ApiIssue[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The text to show for a failed call: the API's message, or the thrown error's. */
export function errorMessageOf(failure: unknown): string {
  if (failure instanceof Error) return failure.message;
  return String(failure);
}

type Query = Record<string, string | number | boolean | undefined>;

function queryString(query: Query): string {
  const params = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== '') params.set(name, String(value));
  }
  const text = params.toString();
  return text ? `?${text}` : '';
}

const segment = encodeURIComponent;

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function issuesOf(value: unknown): ApiIssue[] {
  if (!Array.isArray(value)) return [];
  return value.filter(isRecord).map((issue) => ({
    path: typeof issue['path'] === 'string' ? issue['path'] : '',
    message: typeof issue['message'] === 'string' ? issue['message'] : JSON.stringify(issue),
    ...(typeof issue['expression'] === 'string' ? { expression: issue['expression'] } : {}),
  }));
}

async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (isRecord(body)) {
    return new ApiError(
      response.status,
      typeof body['error'] === 'string' ? body['error'] : 'error',
      typeof body['message'] === 'string' ? body['message'] : `HTTP ${response.status}`,
      issuesOf(body['errors']),
    );
  }
  return new ApiError(
    response.status,
    'error',
    text.trim() || `HTTP ${response.status} ${response.statusText}`,
  );
}

/**
 * The control-plane API of docs/console-api.md, for one API key. Every call resolves with the parsed JSON
 * answer or rejects with an ApiError.
 */
export class ApiClient {
  constructor(
    readonly apiKey: string,
    private readonly baseUrl = '',
  ) {}

  private async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = {
      Authorization: `Bearer ${this.apiKey}`,
      Accept: 'application/json',
    };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (failure) {
      throw new ApiError(0, 'network_error', `The console did not answer: ${errorMessageOf(failure)}`);
    }
    if (!response.ok) throw await errorOf(response);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private get<T>(path: string) {
    return this.request<T>('GET', path);
  }

  session() {
    return this.get<Session>('/v1/session');
  }

  // Workspace

  brands() {
    return this.get<{ brands: Brand[] }>('/v1/brands');
  }

  sources() {
    return this.get<{ sources: Source[] }>('/v1/sources');
  }

  createSource(input: { id: string; brand: string; rateLimit?: number }) {
    return this.request<CreatedSource>('POST', '/v1/sources', input);
  }

  rotateSourceSecret(sourceId: string, graceHours?: number) {
    return this.request<RotatedSecret>(
      'POST',
      `/v1/sources/${segment(sourceId)}/secrets`,
      graceHours === undefined ? {} : { graceHours },
    );
  }

  revokeSourceSecret(sourceId: string, secretId: string) {
    return this.request<Source>('DELETE', `/v1/sources/${segment(sourceId)}/secrets/${segment(secretId)}`);
  }

  holdSource(sourceId: string, reason: string) {
    return this.request<Source>('POST', `/v1/sources/${segment(sourceId)}/hold`, { reason });
  }

  releaseSource(sourceId: string, reason?: string) {
    return this.request<Source>('POST', `/v1/sources/${segment(sourceId)}/release`, reason ? { reason } : {});
  }

  destinationTypes() {
    return this.get<{ types: DestinationType[] }>('/v1/destination-types');
  }

  destinations(brand?: string) {
    return this.get<{ destinations: Destination[] }>(`/v1/destinations${queryString({ brand })}`);
  }

  setDestinationState(destinationId: string, state: DestinationState, reason?: string) {
    return this.request<Destination>(
      'PUT',
      `/v1/destinations/${segment(destinationId)}/state`,
      reason ? { state, reason } : { state },
    );
  }

  mappings(destinationId: string) {
    return this.get<Mappings>(`/v1/destinations/${segment(destinationId)}/mappings`);
  }

  saveMappings(destinationId: string, rules: Rules) {
    return this.request<Mappings>('PUT', `/v1/destinations/${segment(destinationId)}/mappings`, { rules });
  }

  validateMappings(destinationId: string, rules: Rules) {
    return this.request<RulesValidation>(
      'POST',
      `/v1/destinations/${segment(destinationId)}/mappings/validate`,
      { rules },
    );
  }

  preview(input: PreviewRequest) {
    return this.request<Preview>('POST', '/v1/preview', input);
  }

  recentEvents(brand: string, limit = 20) {
    return this.get<{ events: RecentEvent[] }>(`/v1/events/recent${queryString({ brand, limit })}`);
  }

  // Profiles

  /** `reference` is `type:value`, e.g. `email:ana@example.com`. */
  profile(reference: string) {
    return this.get<ProfileLookup>(`/v1/profiles/${segment(reference)}`);
  }

  // Operations

  deadLetters(query: DeadLetterQuery) {
    return this.get<{ letters: DeadLetter[] }>(`/v1/dead-letters${queryString({ ...query })}`);
  }

  deadLetter(id: string | number) {
    return this.get<DeadLetter>(`/v1/dead-letters/${segment(String(id))}`);
  }

  replayDeadLetters(ids: (string | number)[]) {
    return this.request<ReplayOutcome>('POST', '/v1/dead-letters/replay', { ids });
  }

  discardDeadLetters(ids: (string | number)[], reason: string) {
    return this.request<DiscardOutcome>('POST', '/v1/dead-letters/discard', { ids, reason });
  }

  sharedIdentifiers(page: { limit: number; after?: number }) {
    return this.get<{ sharedIdentifiers: SharedIdentifier[]; nextAfter: number | null }>(
      `/v1/identity/shared-identifiers${queryString(page)}`,
    );
  }

  reviews(status = 'pending') {
    return this.get<{ reviews: Review[] }>(`/v1/reviews${queryString({ status })}`);
  }

  decideReview(id: string | number, decision: 'approve' | 'reject', reason?: string) {
    return this.request<Review>(
      'POST',
      `/v1/reviews/${segment(String(id))}/${decision}`,
      reason ? { reason } : {},
    );
  }

  dsrRequests() {
    return this.get<{ requests: DsrRequest[] }>('/v1/dsr');
  }

  dsrRequest(id: string) {
    return this.get<DsrRequest>(`/v1/dsr/${segment(id)}`);
  }

  createDsr(input: DsrInput) {
    return this.request<DsrRequest>('POST', '/v1/dsr', input);
  }

  /** The access export as a file, fetched with the key (a plain link could not send it). */
  async dsrExport(id: string): Promise<Blob> {
    let response: Response;
    try {
      response = await fetch(`${this.baseUrl}/v1/dsr/${segment(id)}/export`, {
        headers: { Authorization: `Bearer ${this.apiKey}` },
      });
    } catch (failure) {
      throw new ApiError(0, 'network_error', `The console did not answer: ${errorMessageOf(failure)}`);
    }
    if (!response.ok) throw await errorOf(response);
    return response.blob();
  }

  audit(query: { action?: string; actor?: string; limit?: number }) {
    return this.get<{ entries: AuditEntry[] }>(`/v1/audit${queryString(query)}`);
  }

  apiKeys() {
    return this.get<{ keys: ApiKey[] }>('/v1/api-keys');
  }

  createApiKey(name: string, role: Role) {
    return this.request<CreatedApiKey>('POST', '/v1/api-keys', { name, role });
  }

  revokeApiKey(id: string) {
    return this.request<unknown>('DELETE', `/v1/api-keys/${segment(id)}`);
  }

  dashboard() {
    return this.get<DashboardFigures>('/v1/dashboard');
  }

  /** The figures' server-sent events: `EventSource` cannot send headers, so the key goes in the query. */
  dashboardStreamUrl(): string {
    return `${this.baseUrl}/v1/dashboard/stream${queryString({ key: this.apiKey })}`;
  }
}
