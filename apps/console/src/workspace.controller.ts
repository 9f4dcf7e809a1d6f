import {
  Controller,
  Delete,
  ForbiddenException,
  Get,
  HttpCode,
  Inject,
  Param,
  Patch,
  Post,
  Put,
} from '@nestjs/common';
import {
  can,
  ControlPlaneError,
  type DestinationRecord,
  type DestinationState,
  mayChangeState,
  notFound,
  refusal,
} from '@tessera/control-plane';
import { secretSettingNames } from '@tessera/destination-kit';
import { pluginCatalog } from '@tessera/destination-registry';
import type { PluginReference } from '@tessera/transform';
import { Caller, Endpoint, ValidBody, ValidQuery } from './console-endpoint.decorator';
import { ConsoleDependencies } from './console-dependencies';
import type { ConsoleCaller } from './console-request';
import {
  BRAND_INPUT,
  BRAND_PATCH,
  BRAND_QUERY,
  DESTINATION_INPUT,
  DESTINATION_PATCH,
  HOLD_INPUT,
  RELEASE_INPUT,
  ROTATION_INPUT,
  RULES_INPUT,
  SOURCE_INPUT,
  STATE_INPUT,
} from './console-schemas';

/** Brands, sources (and their signing secrets), destinations, their states, mappings and plugins. */
@Controller('v1')
export class WorkspaceController {
  constructor(@Inject(ConsoleDependencies) private readonly deps: ConsoleDependencies) {}

  @Get('brands')
  @Endpoint({ permission: 'workspace.read', tag: 'workspace', summary: 'List the brands' })
  async brands() {
    return {
      brands: (await this.deps.catalog.brands()).map(({ id, name, defaultCountry }) => ({
        id,
        name,
        defaultCountry,
      })),
    };
  }

  @Post('brands')
  @Endpoint({
    permission: 'workspace.write',
    tag: 'workspace',
    summary: 'Create a brand',
    body: BRAND_INPUT,
    status: 201,
  })
  async createBrand(
    @ValidBody() body: { id: string; name: string; defaultCountry: string },
    @Caller() caller: ConsoleCaller,
  ) {
    const { id, name, defaultCountry } = await this.deps.catalog.createBrand(body, caller.actor);
    return { id, name, defaultCountry };
  }

  @Patch('brands/:id')
  @Endpoint({
    permission: 'workspace.write',
    tag: 'workspace',
    summary: 'Rename a brand or change its default country',
    body: BRAND_PATCH,
  })
  async updateBrand(
    @Param('id') id: string,
    @ValidBody() body: { name?: string; defaultCountry?: string },
    @Caller() caller: ConsoleCaller,
  ) {
    const { name, defaultCountry } = await this.deps.catalog.updateBrand(id, body, caller.actor);
    return { id, name, defaultCountry };
  }

  @Get('sources')
  @Endpoint({
    permission: 'workspace.read',
    tag: 'workspace',
    summary: 'List the sources, their secrets (never their values) and holds',
  })
  async sources() {
    const [sources, holds] = await Promise.all([
      this.deps.catalog.sources(),
      this.deps.worker.states.sourceHolds(),
    ]);
    return {
      sources: sources.map((source) => {
        const hold = holds.get(source.id);
        return {
          id: source.id,
          brand: source.brand,
          typeMap: source.typeMap,
          rateLimit: source.rateLimit,
          held: hold?.held ?? false,
          holdReason: hold?.held === true ? hold.reason : null,
          secrets: source.secrets.map(({ id, createdAt, expiresAt, revokedAt }) => ({
            id,
            createdAt,
            expiresAt,
            revokedAt,
          })),
        };
      }),
    };
  }

  private async sourceView(id: string) {
    const view = (await this.sources()).sources.find((source) => source.id === id);
    if (view === undefined) throw notFound('source', id);
    return view;
  }

  @Post('sources')
  @Endpoint({
    permission: 'secrets.manage',
    tag: 'workspace',
    summary: 'Create a source; its signing secret is in the answer, once',
    body: SOURCE_INPUT,
    status: 201,
  })
  async createSource(
    @ValidBody() body: { id: string; brand: string; typeMap?: Record<string, string>; rateLimit?: number },
    @Caller() caller: ConsoleCaller,
  ) {
    const { secret } = await this.deps.catalog.createSource(body, caller.actor);
    return { source: await this.sourceView(body.id), secret };
  }

  @Post('sources/:id/secrets')
  @Endpoint({
    permission: 'secrets.manage',
    tag: 'workspace',
    summary:
      'Rotate a source secret: the new one is in the answer, once; the old one stays valid graceHours (24)',
    body: ROTATION_INPUT,
    status: 201,
  })
  async rotateSecret(
    @Param('id') id: string,
    @ValidBody() body: { graceHours?: number },
    @Caller() caller: ConsoleCaller,
  ) {
    const rotated = await this.deps.catalog.rotateSecret(id, body.graceHours, caller.actor);
    return {
      secret: rotated.secret,
      secretId: rotated.secretId,
      previousExpiresAt: rotated.previousExpiresAt,
      source: await this.sourceView(id),
    };
  }

  @Delete('sources/:id/secrets/:secretId')
  @Endpoint({ permission: 'secrets.manage', tag: 'workspace', summary: 'Revoke a source secret at once' })
  async revokeSecret(
    @Param('id') id: string,
    @Param('secretId') secretId: string,
    @Caller() caller: ConsoleCaller,
  ) {
    await this.deps.catalog.revokeSecret(id, secretId, caller.actor);
    return this.sourceView(id);
  }

  @Post('sources/:id/hold')
  @HttpCode(200)
  @Endpoint({
    permission: 'sources.hold',
    tag: 'operations',
    summary: 'Hold a source: its events are accepted and wait',
    body: HOLD_INPUT,
  })
  async hold(
    @Param('id') id: string,
    @ValidBody() body: { reason: string },
    @Caller() caller: ConsoleCaller,
  ) {
    await (await this.deps.operations(caller.actor)).holdSource(id, true, body.reason);
    return this.sourceView(id);
  }

  @Post('sources/:id/release')
  @HttpCode(200)
  @Endpoint({
    permission: 'sources.hold',
    tag: 'operations',
    summary: 'Release a held source',
    body: RELEASE_INPUT,
  })
  async release(
    @Param('id') id: string,
    @ValidBody() body: { reason?: string },
    @Caller() caller: ConsoleCaller,
  ) {
    await (await this.deps.operations(caller.actor)).holdSource(id, false, body.reason);
    return this.sourceView(id);
  }

  @Get('destination-types')
  @Endpoint({
    permission: 'workspace.read',
    tag: 'workspace',
    summary: 'Every destination type of the build, and whether this deployment runs it',
  })
  destinationTypes() {
    const selection = this.deps.runtime.settings.destinations;
    return {
      types: this.deps.catalog.destinationTypes().map((definition) => ({
        type: definition.type,
        title: definition.name,
        selected: selection === 'all' || selection.includes(definition.type),
        settingsSchema: definition.settingsSchema,
        secretSettings: secretSettingNames(definition.settingsSchema),
        operations: Object.keys(definition.operations),
      })),
    };
  }

  @Get('plugins')
  @Endpoint({
    permission: 'workspace.read',
    tag: 'workspace',
    summary: 'The transformation plugins of the build',
  })
  plugins() {
    const catalog = pluginCatalog();
    return {
      plugins: catalog.names().map((name) => {
        const plugin = catalog.get(name)?.plugin;
        return { name, description: plugin?.description ?? '', configSchema: plugin?.configSchema ?? {} };
      }),
    };
  }

  @Get('destinations')
  @Endpoint({
    permission: 'workspace.read',
    tag: 'workspace',
    summary: 'List the destinations with their states (settings with secrets as ***)',
    query: BRAND_QUERY,
  })
  async destinations(@ValidQuery() query: { brand?: string }) {
    const all = await this.destinationViews();
    return {
      destinations:
        query.brand === undefined ? all : all.filter((destination) => destination.brand === query.brand),
    };
  }

  @Get('destinations/:id')
  @Endpoint({ permission: 'workspace.read', tag: 'workspace', summary: 'One destination' })
  async destination(@Param('id') id: string) {
    const view = (await this.destinationViews()).find((destination) => destination.id === id);
    if (view === undefined) throw notFound('destination', id);
    return view;
  }

  @Post('destinations')
  @Endpoint({
    permission: 'workspace.write',
    tag: 'workspace',
    summary: "Create a brand's destination; settings are checked against its type's schema and sealed",
    body: DESTINATION_INPUT,
    status: 201,
  })
  async createDestination(
    @ValidBody()
    body: {
      id: string;
      brand: string;
      type: string;
      settings: Record<string, unknown>;
      state?: DestinationState;
      plugins?: PluginReference[];
    },
    @Caller() caller: ConsoleCaller,
  ) {
    await this.deps.catalog.createDestination(body, caller.actor);
    return this.destination(body.id);
  }

  @Patch('destinations/:id')
  @Endpoint({
    permission: ['workspace.write', 'mappings.write'],
    tag: 'workspace',
    summary:
      'Change settings (admin; a secret left out or sent as *** keeps its value) or plugin configuration (marketer)',
    body: DESTINATION_PATCH,
  })
  async updateDestination(
    @Param('id') id: string,
    @ValidBody() body: { settings?: Record<string, unknown>; plugins?: PluginReference[] },
    @Caller() caller: ConsoleCaller,
  ) {
    if (body.settings !== undefined && !can(caller.key.role, 'workspace.write'))
      throw new ForbiddenException(refusal(caller.key.role, 'workspace.write'));
    await this.deps.catalog.updateDestination(id, body, caller.actor);
    return this.destination(id);
  }

  @Put('destinations/:id/state')
  @Endpoint({
    permission: ['destinations.toggle', 'destinations.pause'],
    tag: 'workspace',
    summary:
      'Set the state (the toggle): enabled, paused or disabled; running workers apply it within seconds',
    body: STATE_INPUT,
  })
  async setState(
    @Param('id') id: string,
    @ValidBody() body: { state: DestinationState; reason?: string },
    @Caller() caller: ConsoleCaller,
  ) {
    const role = caller.key.role;
    await (
      await this.deps.operations(caller.actor)
    ).setDestinationState(id, body.state, {
      ...(body.reason === undefined ? {} : { reason: body.reason }),
      check: (current) => {
        if (!mayChangeState(role, current, body.state))
          throw new ForbiddenException(`role ${role} may only pause and resume destinations`);
      },
    });
    return this.destination(id);
  }

  @Get('destinations/:id/mappings')
  @Endpoint({ permission: 'workspace.read', tag: 'mappings', summary: "The destination's rules in force" })
  async mappings(@Param('id') id: string) {
    await this.deps.catalog.destinationOrThrow(id);
    const current = await this.deps.catalog.currentRules(id);
    return current === undefined
      ? { version: 0, rules: {}, savedAt: null, savedBy: null }
      : {
          version: current.version,
          rules: current.rules,
          savedAt: current.savedAt,
          savedBy: current.savedBy,
        };
  }

  @Put('destinations/:id/mappings')
  @Endpoint({
    permission: 'mappings.write',
    tag: 'mappings',
    summary: 'Save rules: parsed, type-checked and bounded first; 422 names each problem with a JSON Pointer',
    body: RULES_INPUT,
  })
  async saveMappings(
    @Param('id') id: string,
    @ValidBody() body: { rules: unknown },
    @Caller() caller: ConsoleCaller,
  ) {
    const saved = await this.deps.catalog.saveRules(id, body.rules, caller.actor);
    return { version: saved.version, rules: saved.rules, savedAt: saved.savedAt, savedBy: saved.savedBy };
  }

  @Post('destinations/:id/mappings/validate')
  @HttpCode(200)
  @Endpoint({
    permission: ['mappings.write', 'mappings.preview'],
    tag: 'mappings',
    summary: 'Check rules without saving them (always 200: valid, with the problems)',
    body: RULES_INPUT,
  })
  async validateMappings(@Param('id') id: string, @ValidBody() body: { rules: unknown }) {
    await this.deps.catalog.destinationOrThrow(id);
    try {
      this.deps.catalog.checkRules(body.rules);
      return { valid: true, errors: [] };
    } catch (error) {
      if (error instanceof ControlPlaneError) return { valid: false, errors: error.issues };
      throw error;
    }
  }

  @Get('destinations/:id/mappings/history')
  @Endpoint({
    permission: 'workspace.read',
    tag: 'mappings',
    summary: 'Every saved version of the rules, newest first',
  })
  async mappingsHistory(@Param('id') id: string) {
    await this.deps.catalog.destinationOrThrow(id);
    const versions = await this.deps.catalog.rulesHistory(id);
    return {
      versions: versions.map(({ version, rules, savedAt, savedBy }) => ({
        version,
        rules,
        savedAt,
        savedBy,
      })),
    };
  }

  private async destinationViews() {
    const [destinations, states, letters, rules] = await Promise.all([
      this.deps.catalog.destinations(),
      this.deps.worker.states.all(),
      this.deps.worker.deadLetters.countByDestination(),
      this.deps.catalog.rulesVersions(),
    ]);
    const stateOf = new Map(states.map((row) => [row.destinationId, row]));
    const deployed = new Set(this.deps.worker.directory.all().map((destination) => destination.id));
    return destinations.map((destination: DestinationRecord) => {
      const row = stateOf.get(destination.id);
      return {
        id: destination.id,
        brand: destination.brand,
        type: destination.type,
        state: row?.state ?? 'enabled',
        reason: row?.reason ?? null,
        changedBy: row?.changedBy ?? null,
        changedAt: row?.changedAt ?? null,
        authFailures: row?.consecutiveAuthFailures ?? 0,
        deadLetters: letters.get(destination.id) ?? 0,
        deployed: deployed.has(destination.id),
        settings: this.deps.catalog.displayedSettings(destination),
        plugins: destination.plugins,
        mappingsVersion: rules.get(destination.id) ?? 0,
      };
    });
  }
}
