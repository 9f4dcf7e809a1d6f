import stringify from 'safe-stable-stringify';
import { createHash, randomBytes } from 'node:crypto';
import type { AuditInput, AuditLog } from '@tessera/consent';
import { KeyRing } from '@tessera/crypto';
import { eventCatalog } from '@tessera/events';
import {
  type AllowedDestinationHosts,
  type DestinationDefinition,
  destinationHostIssues,
  redactSettings,
  resolveDestinationSettings,
  secretSettingNames,
} from '@tessera/destination-kit';
import { RuleBook, type SavedRules } from '@tessera/rule-book';
import type { BrandDefinition, SourceDefinition, WorkspaceDefinition } from '@tessera/runtime';
import type { SqlExecutor, Store } from '@tessera/store';
import {
  PluginConfigError,
  type PluginCatalog,
  type PluginReference,
  type TransformRules,
} from '@tessera/transform';
import { ControlPlaneError, type InputIssue, notFound } from './control-plane-error';
import { compileOrRefuse } from './rule-issues';

/** Where a row came from: the workspace file (or the demo), applied at every start, or the console. */
export type WorkspaceOrigin = 'workspace' | 'console';

export interface BrandRecord extends BrandDefinition {
  origin: WorkspaceOrigin;
  createdAt: Date;
  updatedAt: Date;
}

export interface SourceSecretRecord {
  id: string;
  origin: WorkspaceOrigin;
  createdAt: Date;
  /** Set when a rotation replaced it: valid until then. */
  expiresAt: Date | null;
  revokedAt: Date | null;
}

export interface SourceRecord {
  id: string;
  brand: string;
  typeMap: Record<string, string>;
  rateLimit: number | null;
  origin: WorkspaceOrigin;
  createdAt: Date;
  updatedAt: Date;
  secrets: SourceSecretRecord[];
}

/** A destination as stored: settings as declared, in the clear (never return them to a client as they are). */
export interface DestinationRecord {
  id: string;
  brand: string;
  type: string;
  settings: Record<string, unknown>;
  plugins: PluginReference[];
  origin: WorkspaceOrigin;
  removedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface WorkspaceCatalogOptions {
  store: Store;
  /** The current master key first: secrets and settings are sealed with a key derived from it. */
  masterKeys: Buffer[];
  audit: AuditLog;
  /** Every destination type of the build. */
  destinationTypes: readonly DestinationDefinition<Record<string, unknown>>[];
  /** The types this deployment runs (TESSERA_DESTINATIONS): only those may be created. */
  selectedTypes: readonly string[];
  plugins: PluginCatalog;
  /**
   * Hosts the deployment allows destinations besides their ESPs' own (TESSERA_ALLOWED_DESTINATION_HOSTS, the
   * embedded sandbox): settings naming any other host are refused when saved. Default: none.
   */
  allowedHosts?: AllowedDestinationHosts;
  now?: () => Date;
}

const SEALING_PURPOSE = 'workspace-secrets';
const SLUG = /^[a-z0-9][a-z0-9-]{0,62}$/;
const DEFAULT_GRACE_HOURS = 24;
const MAX_GRACE_HOURS = 24 * 30;

interface BrandRow {
  id: string;
  name: string;
  default_country: string;
  origin: WorkspaceOrigin;
  created_at: Date;
  updated_at: Date;
}
interface SourceRow {
  id: string;
  brand: string;
  type_map: Record<string, string>;
  rate_limit: number | null;
  origin: WorkspaceOrigin;
  created_at: Date;
  updated_at: Date;
}
interface SecretRow {
  id: string;
  source_id: string;
  key_id: string;
  sealed: Buffer | Uint8Array;
  digest: string;
  origin: WorkspaceOrigin;
  created_at: Date;
  expires_at: Date | null;
  revoked_at: Date | null;
}
interface DestinationRow {
  id: string;
  brand: string;
  type: string;
  key_id: string;
  settings_sealed: Buffer | Uint8Array;
  plugins: PluginReference[];
  origin: WorkspaceOrigin;
  declared_digest: string | null;
  mappings_digest: string | null;
  removed_at: Date | null;
  created_at: Date;
  updated_at: Date;
}

const digestOf = (value: unknown) =>
  createHash('sha256')
    .update(typeof value === 'string' ? value : stableJson(value))
    .digest('hex');

/** JSON with object keys sorted (safe-stable-stringify): equal values compare equal whatever their key order. */
const stableJson = (value: unknown): string => stringify(value) ?? 'null';

const toBrand = (row: BrandRow): BrandRecord => ({
  id: row.id,
  name: row.name,
  defaultCountry: row.default_country,
  origin: row.origin,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const toSecret = (row: SecretRow): SourceSecretRecord => ({
  id: row.id,
  origin: row.origin,
  createdAt: row.created_at,
  expiresAt: row.expires_at,
  revokedAt: row.revoked_at,
});

export const newSourceSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

/**
 * The workspace in the store of record: brands, sources with their sealed signing secrets, destinations with
 * their sealed settings and plugin lists, and (through the rule book) their rules. Every change is checked
 * first (references, the destination package's settings schema, the plugin configs, the rules), written with
 * its audit entry (who, what, before, after — secrets as `***`), and bumps the shared revision that running
 * processes poll.
 */
export class WorkspaceCatalog {
  private readonly keyRing: KeyRing;
  private readonly rules: RuleBook;
  private readonly now: () => Date;

  constructor(private readonly options: WorkspaceCatalogOptions) {
    this.keyRing = new KeyRing(options.masterKeys, SEALING_PURPOSE);
    this.now = options.now ?? (() => new Date());
    this.rules = new RuleBook(options.store, this.now);
  }

  private get store(): Store {
    return this.options.store;
  }

  /** Moves whenever anything of the workspace changes (rules included): pollers reload when it does. */
  async fingerprint(): Promise<string> {
    const [row] = await this.store.query<{ rev: number; rules: number }>(
      `SELECT greatest(
                (SELECT coalesce(max(revision), 0) FROM workspace_brands),
                (SELECT coalesce(max(revision), 0) FROM workspace_sources),
                (SELECT coalesce(max(revision), 0) FROM workspace_source_secrets),
                (SELECT coalesce(max(revision), 0) FROM workspace_destinations)) AS rev,
              (SELECT count(*)::int FROM transform_rule_versions) AS rules`,
    );
    return row === undefined ? '' : `${row.rev}.${row.rules}`;
  }

  // ---- brands

  async brands(executor: SqlExecutor = this.store): Promise<BrandRecord[]> {
    const rows = await executor.query<BrandRow>('SELECT * FROM workspace_brands ORDER BY id');
    return rows.map(toBrand);
  }

  async brand(id: string): Promise<BrandRecord | undefined> {
    const [row] = await this.store.query<BrandRow>('SELECT * FROM workspace_brands WHERE id = $1', [id]);
    return row === undefined ? undefined : toBrand(row);
  }

  async createBrand(brand: BrandDefinition, actor: string): Promise<BrandRecord> {
    checkSlug(brand.id, '/id');
    if ((await this.brand(brand.id)) !== undefined)
      throw new ControlPlaneError('conflict', `brand "${brand.id}" already exists`);
    return this.store.transaction(async (tx) => {
      const row = await upsertBrand(tx, brand, 'console', this.now());
      await this.audit(tx, actor, 'brand.created', {
        entity: 'brand',
        id: brand.id,
        before: null,
        after: brand,
      });
      return toBrand(row);
    });
  }

  async updateBrand(
    id: string,
    patch: Partial<Omit<BrandDefinition, 'id'>>,
    actor: string,
  ): Promise<BrandRecord> {
    const before = await this.brand(id);
    if (before === undefined) throw notFound('brand', id);
    const after: BrandDefinition = {
      id,
      name: patch.name ?? before.name,
      defaultCountry: patch.defaultCountry ?? before.defaultCountry,
    };
    return this.store.transaction(async (tx) => {
      const row = await upsertBrand(tx, after, before.origin, this.now());
      await this.audit(tx, actor, 'brand.updated', {
        entity: 'brand',
        id,
        before: { name: before.name, defaultCountry: before.defaultCountry },
        after: { name: after.name, defaultCountry: after.defaultCountry },
      });
      return toBrand(row);
    });
  }

  // ---- sources

  async sources(executor: SqlExecutor = this.store): Promise<SourceRecord[]> {
    const rows = await executor.query<SourceRow>('SELECT * FROM workspace_sources ORDER BY id');
    const secrets = await executor.query<SecretRow>(
      'SELECT * FROM workspace_source_secrets ORDER BY created_at, id',
    );
    return rows.map((row) => this.toSource(row, secrets));
  }

  async source(id: string): Promise<SourceRecord | undefined> {
    const [row] = await this.store.query<SourceRow>('SELECT * FROM workspace_sources WHERE id = $1', [id]);
    if (row === undefined) return undefined;
    const secrets = await this.store.query<SecretRow>(
      'SELECT * FROM workspace_source_secrets WHERE source_id = $1 ORDER BY created_at, id',
      [id],
    );
    return this.toSource(row, secrets);
  }

  private toSource(row: SourceRow, secrets: readonly SecretRow[]): SourceRecord {
    return {
      id: row.id,
      brand: row.brand,
      typeMap: row.type_map,
      rateLimit: row.rate_limit,
      origin: row.origin,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      secrets: secrets.filter((secret) => secret.source_id === row.id).map(toSecret),
    };
  }

  /** Every source's secrets that verify signatures now (one, or two during a rotation), in the clear. */
  async liveSecrets(executor: SqlExecutor = this.store): Promise<Map<string, string[]>> {
    const rows = await executor.query<SecretRow>(
      `SELECT * FROM workspace_source_secrets
        WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1)
        ORDER BY created_at DESC, id`,
      [this.now()],
    );
    const secrets = new Map<string, string[]>();
    for (const row of rows) {
      const list = secrets.get(row.source_id) ?? [];
      list.push(this.openSecret(row));
      secrets.set(row.source_id, list);
    }
    return secrets;
  }

  private openSecret(row: SecretRow): string {
    return this.keyRing
      .openPacked(row.key_id, Buffer.from(row.sealed), `source:${row.source_id}`)
      .toString('utf8');
  }

  async createSource(
    input: { id: string; brand: string; typeMap?: Record<string, string>; rateLimit?: number },
    actor: string,
  ): Promise<{ source: SourceRecord; secret: string }> {
    checkSlug(input.id, '/id');
    if ((await this.brand(input.brand)) === undefined)
      throw new ControlPlaneError('invalid', `unknown brand "${input.brand}"`, [
        { path: '/brand', message: `unknown brand "${input.brand}"` },
      ]);
    const catalog = eventCatalog();
    for (const [from, to] of Object.entries(input.typeMap ?? {})) {
      if (!catalog.has(to) || catalog.entry(to).origin !== 'source') {
        const path = `/typeMap/${from.replace(/~/g, '~0').replace(/\//g, '~1')}`;
        throw new ControlPlaneError('invalid', `${path} "${to}" is not an event type sources may send`, [
          { path, message: `"${to}" is not an event type sources may send` },
        ]);
      }
    }
    if ((await this.source(input.id)) !== undefined)
      throw new ControlPlaneError('conflict', `source "${input.id}" already exists`);
    const secret = newSourceSecret();
    await this.store.transaction(async (tx) => {
      await upsertSource(
        tx,
        { id: input.id, brand: input.brand, typeMap: input.typeMap, rateLimit: input.rateLimit },
        'console',
        this.now(),
      );
      await this.insertSecret(tx, input.id, secret, 'console');
      await this.audit(tx, actor, 'source.created', {
        entity: 'source',
        id: input.id,
        before: null,
        after: {
          brand: input.brand,
          typeMap: input.typeMap ?? {},
          rateLimit: input.rateLimit ?? null,
          secrets: 1,
        },
      });
    });
    return { source: await this.sourceOrThrow(input.id), secret };
  }

  private async sourceOrThrow(id: string): Promise<SourceRecord> {
    const source = await this.source(id);
    if (source === undefined) throw notFound('source', id);
    return source;
  }

  private async insertSecret(tx: SqlExecutor, sourceId: string, secret: string, origin: WorkspaceOrigin) {
    const id = `sec_${randomBytes(6).toString('hex')}`;
    const { kid, packed } = this.keyRing.sealPacked(secret, `source:${sourceId}`);
    await tx.query(
      `INSERT INTO workspace_source_secrets (id, source_id, key_id, sealed, digest, origin, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [id, sourceId, kid, packed, digestOf(secret), origin, this.now()],
    );
    return id;
  }

  /**
   * Rotates a source's secret: a new one, returned once, and the current one valid `graceHours` more, so that
   * the sender can switch without losing an event. Refused while a rotation is still under way (two live).
   */
  async rotateSecret(
    sourceId: string,
    graceHours: number | undefined,
    actor: string,
  ): Promise<{ secret: string; secretId: string; previousExpiresAt: Date | null; source: SourceRecord }> {
    const source = await this.sourceOrThrow(sourceId);
    const grace = graceHours ?? DEFAULT_GRACE_HOURS;
    if (!Number.isFinite(grace) || grace < 0 || grace > MAX_GRACE_HOURS)
      throw new ControlPlaneError('invalid', `graceHours must be between 0 and ${MAX_GRACE_HOURS}`, [
        { path: '/graceHours', message: `must be between 0 and ${MAX_GRACE_HOURS}` },
      ]);
    const now = this.now();
    const live = source.secrets.filter((secret) => isLive(secret, now));
    if (live.length >= 2)
      throw new ControlPlaneError(
        'conflict',
        `source "${sourceId}" is already rotating (two live secrets): revoke ${live
          .map((secret) => secret.id)
          .join(' or ')} first`,
      );
    const expiresAt = new Date(now.getTime() + grace * 3_600_000);
    const secret = newSourceSecret();
    const secretId = await this.store.transaction(async (tx) => {
      for (const old of live) {
        await tx.query(
          `UPDATE workspace_source_secrets SET expires_at = $2, revision = nextval('pipeline_control_revision')
            WHERE id = $1`,
          [old.id, grace === 0 ? now : expiresAt],
        );
      }
      const id = await this.insertSecret(tx, sourceId, secret, 'console');
      await this.audit(tx, actor, 'source.secret_rotated', {
        entity: 'source',
        id: sourceId,
        before: { liveSecrets: live.map((old) => old.id) },
        after: { newSecret: id, previousExpiresAt: live.length > 0 ? (grace === 0 ? now : expiresAt) : null },
      });
      return id;
    });
    return {
      secret,
      secretId,
      previousExpiresAt: live.length > 0 ? (grace === 0 ? now : expiresAt) : null,
      source: await this.sourceOrThrow(sourceId),
    };
  }

  /** Revokes one secret at once; refused for the source's last live secret (it could no longer send). */
  async revokeSecret(sourceId: string, secretId: string, actor: string): Promise<SourceRecord> {
    const source = await this.sourceOrThrow(sourceId);
    const secret = source.secrets.find((candidate) => candidate.id === secretId);
    if (secret === undefined) throw notFound(`secret of source "${sourceId}"`, secretId);
    if (secret.revokedAt !== null) return source;
    const now = this.now();
    const live = source.secrets.filter((candidate) => isLive(candidate, now));
    if (live.length === 1 && live[0]?.id === secretId)
      throw new ControlPlaneError(
        'conflict',
        `secret "${secretId}" is the last live secret of source "${sourceId}": rotate first, then revoke it`,
      );
    await this.store.transaction(async (tx) => {
      await tx.query(
        `UPDATE workspace_source_secrets SET revoked_at = $2, revision = nextval('pipeline_control_revision')
          WHERE id = $1`,
        [secretId, now],
      );
      await this.audit(tx, actor, 'source.secret_revoked', {
        entity: 'source',
        id: sourceId,
        before: { secret: secretId, revokedAt: null },
        after: { secret: secretId, revokedAt: now.toISOString() },
      });
    });
    return this.sourceOrThrow(sourceId);
  }

  // ---- destinations

  async destinations(
    options: { includeRemoved?: boolean } = {},
    executor: SqlExecutor = this.store,
  ): Promise<DestinationRecord[]> {
    const rows = await executor.query<DestinationRow>(
      `SELECT * FROM workspace_destinations ${options.includeRemoved === true ? '' : 'WHERE removed_at IS NULL'}
        ORDER BY brand, id`,
    );
    return rows.map((row) => this.toDestination(row));
  }

  async destination(id: string): Promise<DestinationRecord | undefined> {
    const [row] = await this.store.query<DestinationRow>(
      'SELECT * FROM workspace_destinations WHERE id = $1 AND removed_at IS NULL',
      [id],
    );
    return row === undefined ? undefined : this.toDestination(row);
  }

  async destinationOrThrow(id: string): Promise<DestinationRecord> {
    const destination = await this.destination(id);
    if (destination === undefined) throw notFound('destination', id);
    return destination;
  }

  private toDestination(row: DestinationRow): DestinationRecord {
    return {
      id: row.id,
      brand: row.brand,
      type: row.type,
      settings: JSON.parse(
        this.keyRing
          .openPacked(row.key_id, Buffer.from(row.settings_sealed), `destination:${row.id}`)
          .toString('utf8'),
      ) as Record<string, unknown>,
      plugins: row.plugins,
      origin: row.origin,
      removedAt: row.removed_at,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
    };
  }

  /** Every destination type of the build. */
  destinationTypes(): readonly DestinationDefinition<Record<string, unknown>>[] {
    return this.options.destinationTypes;
  }

  definitionOf(type: string): DestinationDefinition<Record<string, unknown>> | undefined {
    return this.options.destinationTypes.find((definition) => definition.type === type);
  }

  /** The settings as they may be shown: every secret as `***`. */
  displayedSettings(destination: Pick<DestinationRecord, 'type' | 'settings'>): Record<string, unknown> {
    const definition = this.definitionOf(destination.type);
    return definition === undefined ? {} : redactSettings(definition.settingsSchema, destination.settings);
  }

  async createDestination(
    input: {
      id: string;
      brand: string;
      type: string;
      settings: Record<string, unknown>;
      plugins?: PluginReference[];
      state?: 'enabled' | 'paused' | 'disabled';
    },
    actor: string,
  ): Promise<DestinationRecord> {
    checkSlug(input.id, '/id');
    if ((await this.brand(input.brand)) === undefined)
      throw new ControlPlaneError('invalid', `unknown brand "${input.brand}"`, [
        { path: '/brand', message: `unknown brand "${input.brand}"` },
      ]);
    const definition = this.definitionOf(input.type);
    if (definition === undefined)
      throw new ControlPlaneError('invalid', `unknown destination type "${input.type}"`, [
        {
          path: '/type',
          message: `must be one of ${this.options.destinationTypes.map((candidate) => candidate.type).join(', ')}`,
        },
      ]);
    if (!this.options.selectedTypes.includes(input.type))
      throw new ControlPlaneError(
        'invalid',
        `this deployment does not run ${input.type} destinations (TESSERA_DESTINATIONS runs: ${this.options.selectedTypes.join(', ') || 'none'})`,
        [{ path: '/type', message: 'is not a destination type this deployment runs' }],
      );
    const [existing] = await this.store.query<{ id: string }>(
      'SELECT id FROM workspace_destinations WHERE id = $1',
      [input.id],
    );
    if (existing !== undefined)
      throw new ControlPlaneError('conflict', `destination "${input.id}" already exists`);
    this.checkSettings(definition, input.settings);
    const plugins = input.plugins ?? [];
    this.checkPlugins(input.id, plugins);
    await this.store.transaction(async (tx) => {
      await this.writeDestination(tx, { ...input, plugins }, 'console', { declaredDigest: null });
      await ensureStateRow(tx, { ...input, state: input.state ?? 'enabled' }, actor, this.now());
      await this.audit(tx, actor, 'destination.created', {
        entity: 'destination',
        id: input.id,
        before: null,
        after: {
          brand: input.brand,
          type: input.type,
          state: input.state ?? 'enabled',
          settings: redactSettings(definition.settingsSchema, input.settings),
          plugins,
        },
      });
    });
    return this.destinationOrThrow(input.id);
  }

  /**
   * Changes a destination's settings (merged over the stored ones; a secret left out or sent as `***` keeps its
   * value) and/or its plugin list, after validating the result.
   */
  async updateDestination(
    id: string,
    patch: { settings?: Record<string, unknown>; plugins?: PluginReference[] },
    actor: string,
  ): Promise<DestinationRecord> {
    const before = await this.destinationOrThrow(id);
    const definition = this.definitionOf(before.type);
    if (definition === undefined)
      throw new ControlPlaneError(
        'conflict',
        `destination "${id}" is of type ${before.type}, which this build lacks`,
      );
    const settings = { ...before.settings };
    for (const [name, value] of Object.entries(patch.settings ?? {})) {
      const secret = secretSettingNames(definition.settingsSchema).includes(name);
      if (secret && value === '***') continue;
      if (value === null) delete settings[name];
      else settings[name] = value;
    }
    this.checkSettings(definition, settings);
    const plugins = patch.plugins ?? before.plugins;
    this.checkPlugins(id, plugins);
    await this.store.transaction(async (tx) => {
      await this.writeDestination(
        tx,
        { id, brand: before.brand, type: before.type, settings, plugins },
        before.origin,
        {},
      );
      await this.audit(tx, actor, 'destination.updated', {
        entity: 'destination',
        id,
        before: {
          settings: redactSettings(definition.settingsSchema, before.settings),
          plugins: before.plugins,
        },
        after: { settings: redactSettings(definition.settingsSchema, settings), plugins },
      });
    });
    return this.destinationOrThrow(id);
  }

  private checkSettings(definition: DestinationDefinition<Record<string, unknown>>, settings: unknown): void {
    const resolved = resolveDestinationSettings(definition, settings);
    // A host the destination may not call is refused now, not first at send time.
    const errors = resolved.ok
      ? destinationHostIssues(definition, resolved.settings, this.options.allowedHosts)
      : resolved.errors;
    if (errors.length > 0) {
      const issues: InputIssue[] = errors.map((error) => ({
        path: `/settings${error.pointer}`,
        message: error.message,
      }));
      throw new ControlPlaneError(
        'invalid',
        `invalid ${definition.type} settings: ${issues.map((issue) => `${issue.path} ${issue.message}`).join('; ')}`,
        issues,
      );
    }
  }

  private checkPlugins(destinationId: string, plugins: PluginReference[]): void {
    try {
      this.options.plugins.resolve(destinationId, plugins);
    } catch (error) {
      if (error instanceof PluginConfigError)
        throw new ControlPlaneError('invalid', error.message, [{ path: '/plugins', message: error.message }]);
      throw error;
    }
  }

  private async writeDestination(
    tx: SqlExecutor,
    destination: {
      id: string;
      brand: string;
      type: string;
      settings: Record<string, unknown>;
      plugins: PluginReference[];
    },
    origin: WorkspaceOrigin,
    digests: { declaredDigest?: string | null; mappingsDigest?: string | null },
  ): Promise<void> {
    const { kid, packed } = this.keyRing.sealPacked(
      JSON.stringify(destination.settings),
      `destination:${destination.id}`,
    );
    const now = this.now();
    await tx.query(
      `INSERT INTO workspace_destinations
         (id, brand, type, key_id, settings_sealed, plugins, origin, declared_digest, mappings_digest, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10, $10)
       ON CONFLICT (id) DO UPDATE SET
         brand = EXCLUDED.brand, type = EXCLUDED.type, key_id = EXCLUDED.key_id,
         settings_sealed = EXCLUDED.settings_sealed, plugins = EXCLUDED.plugins,
         declared_digest = CASE WHEN $11 THEN EXCLUDED.declared_digest ELSE workspace_destinations.declared_digest END,
         mappings_digest = CASE WHEN $12 THEN EXCLUDED.mappings_digest ELSE workspace_destinations.mappings_digest END,
         removed_at = NULL, updated_at = EXCLUDED.updated_at, revision = nextval('pipeline_control_revision')`,
      [
        destination.id,
        destination.brand,
        destination.type,
        kid,
        packed,
        JSON.stringify(destination.plugins),
        origin,
        digests.declaredDigest ?? null,
        digests.mappingsDigest ?? null,
        now,
        digests.declaredDigest !== undefined,
        digests.mappingsDigest !== undefined,
      ],
    );
  }

  // ---- rules

  currentRules(destinationId: string): Promise<SavedRules | undefined> {
    return this.rules.current(destinationId);
  }

  rulesHistory(destinationId: string): Promise<SavedRules[]> {
    return this.rules.history(destinationId);
  }

  /** Checks rules without saving them: throws the `invalid_rules` (or `invalid`) ControlPlaneError. */
  checkRules(rules: unknown): void {
    compileOrRefuse(rules);
  }

  /** The version of the rules in force, per destination that has any. */
  async rulesVersions(): Promise<Map<string, number>> {
    const rows = await this.store.query<{ destination_id: string; version: number }>(
      'SELECT destination_id, max(version)::int AS version FROM transform_rule_versions GROUP BY destination_id',
    );
    return new Map(rows.map((row) => [row.destination_id, row.version]));
  }

  /** Checks the rules (parse, type-check, bounds) and saves them as the destination's next version. */
  async saveRules(destinationId: string, rules: unknown, actor: string): Promise<SavedRules> {
    const destination = await this.destinationOrThrow(destinationId);
    compileOrRefuse(rules);
    const before = await this.rules.current(destinationId);
    const { saved } = await this.rules.save(destinationId, {
      brand: destination.brand,
      rules: rules as TransformRules,
      savedBy: actor,
    });
    await this.audit(this.store, actor, 'mappings.saved', {
      entity: 'destination',
      id: destinationId,
      before: before === undefined ? null : { version: before.version, rules: before.rules },
      after: { version: saved.version, rules: saved.rules },
    });
    return saved;
  }

  // ---- the declared workspace

  /**
   * Applies the workspace file (and the demo) idempotently: brands and sources are upserted as declared, their
   * declared secrets made live (a secret the file no longer declares is revoked), and a destination's settings,
   * plugins and mappings are rewritten only when its declaration changed since the last start, so that an edit
   * made in the console survives restarts until the file itself changes. Returns what changed.
   */
  async applyDeclared(workspace: WorkspaceDefinition): Promise<{ changes: string[] }> {
    const changes: string[] = [];
    const now = this.now();
    await this.store.transaction(async (tx) => {
      // Processes starting together (ingest and workers) apply the same file: one at a time.
      await tx.query('SELECT pg_advisory_xact_lock(7355608)');
      const brands = new Map(
        (await tx.query<BrandRow>('SELECT * FROM workspace_brands')).map((row) => [row.id, row]),
      );
      for (const brand of workspace.brands) {
        const known = brands.get(brand.id);
        if (
          known !== undefined &&
          known.name === brand.name &&
          known.default_country === brand.defaultCountry
        )
          continue;
        await upsertBrand(tx, brand, 'workspace', now);
        changes.push(`brand ${brand.id}`);
      }
      const sources = new Map(
        (await tx.query<SourceRow>('SELECT * FROM workspace_sources')).map((row) => [row.id, row]),
      );
      const secrets = await tx.query<SecretRow>(
        'SELECT * FROM workspace_source_secrets WHERE revoked_at IS NULL',
      );
      for (const source of workspace.sources) {
        const known = sources.get(source.id);
        if (
          known === undefined ||
          known.brand !== source.brand ||
          stableJson(known.type_map) !== stableJson(source.typeMap ?? {}) ||
          known.rate_limit !== (source.rateLimit ?? null)
        ) {
          await upsertSource(tx, source, known?.origin ?? 'workspace', now);
          changes.push(`source ${source.id}`);
        }
        const declared = new Set(source.secrets.map((secret) => digestOf(secret)));
        const held = secrets.filter((row) => row.source_id === source.id);
        for (const secret of source.secrets) {
          const row = held.find((candidate) => candidate.digest === digestOf(secret));
          if (row === undefined) {
            await this.insertSecret(tx, source.id, secret, 'workspace');
            changes.push(`secret of source ${source.id}`);
          } else if (row.expires_at !== null) {
            await tx.query(
              `UPDATE workspace_source_secrets SET expires_at = NULL, revision = nextval('pipeline_control_revision')
                WHERE id = $1`,
              [row.id],
            );
          }
        }
        for (const row of held) {
          if (row.origin !== 'workspace' || declared.has(row.digest)) continue;
          await tx.query(
            `UPDATE workspace_source_secrets SET revoked_at = $2, revision = nextval('pipeline_control_revision')
              WHERE id = $1`,
            [row.id, now],
          );
          changes.push(`revoked an undeclared secret of source ${source.id}`);
        }
      }
      const stored = new Map(
        (await tx.query<DestinationRow>('SELECT * FROM workspace_destinations')).map((row) => [row.id, row]),
      );
      for (const declared of workspace.destinations) {
        const id = declared['id'];
        if (typeof id !== 'string') continue;
        const settings = (declared['settings'] ?? {}) as Record<string, unknown>;
        const plugins = (declared['plugins'] ?? []) as PluginReference[];
        const declaredDigest = digestOf({
          brand: declared['brand'],
          type: declared['type'],
          settings,
          plugins,
        });
        const mappings = declared['mappings'];
        const mappingsDigest = mappings === undefined ? null : digestOf(mappings);
        const known = stored.get(id);
        await ensureStateRow(
          tx,
          {
            id,
            brand: String(declared['brand']),
            type: String(declared['type']),
            state: String(declared['state'] ?? 'enabled'),
          },
          'workspace',
          now,
        );
        if (known === undefined || known.declared_digest !== declaredDigest || known.removed_at !== null) {
          await this.writeDestination(
            tx,
            { id, brand: String(declared['brand']), type: String(declared['type']), settings, plugins },
            known?.origin ?? 'workspace',
            { declaredDigest },
          );
          changes.push(`destination ${id}`);
        }
        if (mappingsDigest !== null && known?.mappings_digest !== mappingsDigest) {
          await tx.query(
            `INSERT INTO transform_rule_versions (destination_id, version, brand, rules, saved_at, saved_by)
             SELECT $1, COALESCE(MAX(version), 0) + 1, $2, $3::jsonb, $4, 'workspace'
               FROM transform_rule_versions WHERE destination_id = $1`,
            [id, String(declared['brand']), JSON.stringify(mappings), now],
          );
          await tx.query(
            `UPDATE workspace_destinations SET mappings_digest = $2, revision = nextval('pipeline_control_revision')
              WHERE id = $1`,
            [id, mappingsDigest],
          );
          changes.push(`mappings of destination ${id}`);
        }
      }
      const declaredIds = new Set(workspace.destinations.map((destination) => destination['id']));
      for (const row of stored.values()) {
        if (row.origin !== 'workspace' || row.removed_at !== null || declaredIds.has(row.id)) continue;
        await tx.query(
          `UPDATE workspace_destinations SET removed_at = $2, revision = nextval('pipeline_control_revision')
            WHERE id = $1`,
          [row.id, now],
        );
        changes.push(`removed destination ${row.id}, no longer declared`);
      }
      if (changes.length > 0)
        await this.audit(tx, 'workspace', 'workspace.applied', {
          entity: 'workspace',
          id: 'workspace',
          before: null,
          after: { changes },
        });
    });
    return { changes };
  }

  /**
   * The whole workspace as processes run it: brands, sources with their live secrets, destinations with their
   * declared settings, plugins, and current rules (`mappings`).
   */
  async load(): Promise<WorkspaceDefinition> {
    // One snapshot: a change that spans tables (a destination and its rules) is seen whole or not at all.
    return this.store.transaction(async (tx) => {
      await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
      const brands = await this.brands(tx);
      const sources = await this.sources(tx);
      const secrets = await this.liveSecrets(tx);
      const destinations = await this.destinations({}, tx);
      const rules = await tx.query<{ destination_id: string; rules: TransformRules }>(
        `SELECT DISTINCT ON (destination_id) destination_id, rules FROM transform_rule_versions
          ORDER BY destination_id, version DESC`,
      );
      const rulesOf = new Map(rules.map((row) => [row.destination_id, row.rules]));
      const states = await tx.query<{ destination_id: string; state: string }>(
        'SELECT destination_id, state FROM destination_states',
      );
      const stateOf = new Map(states.map((row) => [row.destination_id, row.state]));
      return {
        brands: brands.map((brand) => ({
          id: brand.id,
          name: brand.name,
          defaultCountry: brand.defaultCountry,
        })),
        sources: sources.map((source): SourceDefinition => ({
          id: source.id,
          brand: source.brand,
          secrets: secrets.get(source.id) ?? [],
          typeMap: source.typeMap,
          ...(source.rateLimit === null ? {} : { rateLimit: source.rateLimit }),
        })),
        destinations: destinations.map((destination) => ({
          id: destination.id,
          brand: destination.brand,
          type: destination.type,
          settings: destination.settings,
          plugins: destination.plugins,
          state: stateOf.get(destination.id) ?? 'enabled',
          ...(rulesOf.has(destination.id) ? { mappings: rulesOf.get(destination.id) } : {}),
        })),
      };
    });
  }

  private async audit(
    executor: SqlExecutor,
    actor: string,
    action: string,
    detail: { entity: string; id: string; before: unknown; after: unknown },
  ): Promise<void> {
    const entry: AuditInput = { actor, action, detail };
    await this.options.audit.record([entry], executor);
  }
}

function isLive(secret: SourceSecretRecord, now: Date): boolean {
  return secret.revokedAt === null && (secret.expiresAt === null || secret.expiresAt > now);
}

function checkSlug(id: string, path: string): void {
  if (!SLUG.test(id))
    throw new ControlPlaneError('invalid', `${path} must be a slug (a-z, 0-9 and -, at most 63 characters)`, [
      { path, message: 'must be a slug (a-z, 0-9 and -, at most 63 characters)' },
    ]);
}

/** The destination's state row, for a new destination only: a state an operator set is never overwritten. */
async function ensureStateRow(
  tx: SqlExecutor,
  destination: { id: string; brand: string; type: string; state: string },
  actor: string,
  now: Date,
): Promise<void> {
  await tx.query(
    `INSERT INTO destination_states (destination_id, brand, type, state, changed_by, changed_at)
     VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (destination_id) DO NOTHING`,
    [destination.id, destination.brand, destination.type, destination.state, actor, now],
  );
}

async function upsertBrand(tx: SqlExecutor, brand: BrandDefinition, origin: WorkspaceOrigin, now: Date) {
  const [row] = await tx.query<BrandRow>(
    `INSERT INTO workspace_brands (id, name, default_country, origin, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $5)
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, default_country = EXCLUDED.default_country,
       updated_at = EXCLUDED.updated_at, revision = nextval('pipeline_control_revision')
     RETURNING *`,
    [brand.id, brand.name, brand.defaultCountry, origin, now],
  );
  if (row === undefined) throw new Error('INSERT … RETURNING returned no row');
  return row;
}

async function upsertSource(
  tx: SqlExecutor,
  source: Pick<SourceDefinition, 'id' | 'brand' | 'typeMap' | 'rateLimit'>,
  origin: WorkspaceOrigin,
  now: Date,
): Promise<void> {
  await tx.query(
    `INSERT INTO workspace_sources (id, brand, type_map, rate_limit, origin, created_at, updated_at)
     VALUES ($1, $2, $3::jsonb, $4, $5, $6, $6)
     ON CONFLICT (id) DO UPDATE SET brand = EXCLUDED.brand, type_map = EXCLUDED.type_map,
       rate_limit = EXCLUDED.rate_limit, updated_at = EXCLUDED.updated_at,
       revision = nextval('pipeline_control_revision')`,
    [source.id, source.brand, JSON.stringify(source.typeMap ?? {}), source.rateLimit ?? null, origin, now],
  );
}
