import { readFileSync } from 'node:fs';
import Ajv, { type ErrorObject } from 'ajv';
import { eventCatalog } from '@tessera/events';
import { ConfigurationError } from './settings';

export interface BrandDefinition {
  id: string;
  name: string;
  /** ISO 3166-1 alpha-2: phones without a country code are read as this country's. */
  defaultCountry: string;
}

export interface SourceDefinition {
  id: string;
  brand: string;
  /** One or two Standard Webhooks secrets (`whsec_…`); two while a secret is being rotated. */
  secrets: string[];
  /** The source's own event names → catalog types. */
  typeMap?: Record<string, string>;
  /** Events per second this source may send (default TESSERA_SOURCE_RATE_LIMIT). */
  rateLimit?: number;
}

export interface WorkspaceDefinition {
  brands: BrandDefinition[];
  sources: SourceDefinition[];
  /** Declared here, applied by the destination issues; kept as given until then. */
  destinations: Array<Record<string, unknown>>;
}

const SLUG = '^[a-z0-9][a-z0-9-]{0,62}$';

/** A brand as the workspace file declares it; the console validates with the same schema. */
export const BRAND_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'name', 'defaultCountry'],
  properties: {
    id: { type: 'string', pattern: SLUG },
    name: { type: 'string', minLength: 1, maxLength: 128 },
    defaultCountry: { type: 'string', pattern: '^[A-Z]{2}$' },
  },
} as const;

/** A source as the workspace file declares it; the console validates with the same schema. */
export const SOURCE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'brand', 'secrets'],
  properties: {
    id: { type: 'string', pattern: SLUG },
    brand: { type: 'string', pattern: SLUG },
    secrets: {
      type: 'array',
      minItems: 1,
      maxItems: 2,
      items: { type: 'string', pattern: '^whsec_[A-Za-z0-9+/]+={0,2}$', maxLength: 200 },
    },
    typeMap: {
      type: 'object',
      maxProperties: 500,
      propertyNames: { minLength: 1, maxLength: 256 },
      additionalProperties: { type: 'string' },
    },
    rateLimit: { type: 'integer', minimum: 1, maximum: 10000000 },
  },
} as const;

const workspaceSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    brands: {
      type: 'array',
      maxItems: 1000,
      items: BRAND_SCHEMA,
    },
    sources: {
      type: 'array',
      maxItems: 10000,
      items: SOURCE_SCHEMA,
    },
    destinations: { type: 'array', maxItems: 1000, items: { type: 'object' } },
  },
} as const;

const validateShape = new Ajv({ allErrors: false }).compile(workspaceSchema);

const pointerSegment = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

function fail(file: string, pointer: string, detail: string): never {
  throw new ConfigurationError(
    'TESSERA_WORKSPACE_FILE',
    `${file}${pointer ? ` at ${pointer}` : ''}: ${detail}`,
  );
}

/** Checks a parsed workspace declaration: its shape, then the references between its parts. */
export function parseWorkspace(document: unknown, file: string): WorkspaceDefinition {
  if (!validateShape(document)) {
    const error = (validateShape.errors as ErrorObject[])[0];
    const params = error.params as Record<string, unknown>;
    const where =
      error.instancePath +
      (params.additionalProperty ? `/${pointerSegment(String(params.additionalProperty))}` : '');
    fail(file, where, error.message ?? 'is invalid');
  }
  const declared = document as Partial<WorkspaceDefinition>;
  const workspace: WorkspaceDefinition = {
    brands: declared.brands ?? [],
    sources: declared.sources ?? [],
    destinations: declared.destinations ?? [],
  };
  const brandIds = new Set<string>();
  workspace.brands.forEach((brand, i) => {
    if (brandIds.has(brand.id)) fail(file, `/brands/${i}/id`, `brand "${brand.id}" is declared twice`);
    brandIds.add(brand.id);
  });
  const sourceIds = new Set<string>();
  const catalog = eventCatalog();
  workspace.sources.forEach((source, i) => {
    if (sourceIds.has(source.id)) fail(file, `/sources/${i}/id`, `source "${source.id}" is declared twice`);
    sourceIds.add(source.id);
    if (!brandIds.has(source.brand)) fail(file, `/sources/${i}/brand`, `unknown brand "${source.brand}"`);
    source.secrets.forEach((secret, j) => {
      if (Buffer.from(secret.slice('whsec_'.length), 'base64').length < 16) {
        fail(file, `/sources/${i}/secrets/${j}`, 'a secret must carry at least 16 random bytes');
      }
    });
    for (const [from, to] of Object.entries(source.typeMap ?? {})) {
      if (!catalog.has(to) || catalog.entry(to).origin !== 'source') {
        fail(
          file,
          `/sources/${i}/typeMap/${pointerSegment(from)}`,
          `"${to}" is not an event type sources may send`,
        );
      }
    }
  });
  return workspace;
}

export function loadWorkspaceFile(file: string): WorkspaceDefinition {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new ConfigurationError(
      'TESSERA_WORKSPACE_FILE',
      `cannot read ${file} (${(error as NodeJS.ErrnoException).code})`,
    );
  }
  let document: unknown;
  try {
    document = JSON.parse(text);
  } catch (error) {
    throw new ConfigurationError(
      'TESSERA_WORKSPACE_FILE',
      `${file} is not valid JSON: ${(error as Error).message}`,
    );
  }
  return parseWorkspace(document, file);
}

/** Layers workspaces: a later one's brands and sources replace an earlier one's with the same id. */
export function mergeWorkspaces(...layers: WorkspaceDefinition[]): WorkspaceDefinition {
  const byId = <T extends { id: string }>(lists: T[][]) => [
    ...new Map(lists.flat().map((item) => [item.id, item])).values(),
  ];
  return {
    brands: byId(layers.map((layer) => layer.brands)),
    sources: byId(layers.map((layer) => layer.sources)),
    destinations: layers.flatMap((layer) => layer.destinations),
  };
}
