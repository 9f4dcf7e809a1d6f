import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Ajv2020, { type ErrorObject, type ValidateFunction } from 'ajv/dist/2020';
import addFormats from 'ajv-formats';
import type { CatalogEvent } from './catalog-event';
import { EVENT_TYPES, type EventType } from './generated/event-types';
import {
  markedFields,
  maskFields,
  trimContactPoints,
  type PersonalDataField,
  type PersonalDataMask,
} from './personal-data';
import { toValidationIssues, type ValidationIssue } from './validation-issue';

const schemasDir = join(__dirname, '..', 'schemas');
const ENVELOPE_ID = 'urn:tessera:schema:cloudevent';

export interface CatalogEntry {
  type: EventType;
  version: number;
  /** `source`: sources may send it; `internal`: only Tessera emits it (e.g. membership.split). */
  origin: 'source' | 'internal';
  description: string;
  schema: Record<string, unknown>;
  /** The event's fields its schemas mark `x-pii` (pointers into the CatalogEvent, `*` for any key). */
  personalData: readonly PersonalDataField[];
}

type JsonSchema = Record<string, unknown> & { $id: string; description?: string; 'x-origin'?: string };

function readSchemas(): JsonSchema[] {
  return readdirSync(schemasDir)
    .filter((name) => name.endsWith('.schema.json'))
    .sort()
    .map((name) => JSON.parse(readFileSync(join(schemasDir, name), 'utf8')) as JsonSchema);
}

/**
 * The event catalog: one JSON Schema per CloudEvents type, compiled once with ajv.
 * `validateData` also fills schema defaults (consent `purpose` → `marketing`) into the object it checks.
 */
export class EventCatalog {
  private readonly entries = new Map<EventType, CatalogEntry>();
  private readonly dataValidators = new Map<EventType, ValidateFunction>();
  private readonly envelopeValidator: ValidateFunction;
  private readonly envelopePersonalData: readonly PersonalDataField[];

  constructor() {
    const ajv = new Ajv2020({
      allErrors: true,
      strict: true,
      strictTypes: false,
      strictRequired: false,
      useDefaults: true,
      verbose: true,
    });
    addFormats(ajv);
    ajv.addKeyword({ keyword: 'x-origin', schemaType: 'string' });
    ajv.addKeyword({ keyword: 'x-pii', schemaType: 'string' });
    const schemas = readSchemas();
    for (const schema of schemas) ajv.addSchema(schema);
    this.envelopeValidator = ajv.getSchema(ENVELOPE_ID) as ValidateFunction;
    const documents = new Map(schemas.map((schema) => [schema.$id, schema as Record<string, unknown>]));
    // On the wire extension attributes sit beside the others; a CatalogEvent carries them in `extensions`.
    this.envelopePersonalData = markedFields(
      documents.get(ENVELOPE_ID) as Record<string, unknown>,
      documents,
    ).map((field) =>
      field.pointer.startsWith('/*') ? { ...field, pointer: `/extensions${field.pointer}` } : field,
    );
    for (const schema of schemas) {
      const [, , kind, type, version] = schema.$id.split(':');
      if (kind !== 'event') continue;
      if (!(EVENT_TYPES as readonly string[]).includes(type)) {
        throw new Error(`schema ${schema.$id} has no generated type: run \`npx nx run events:generate\``);
      }
      const eventType = type as EventType;
      this.entries.set(eventType, {
        type: eventType,
        version: Number(version.replace(/^v/, '')),
        origin: schema['x-origin'] === 'internal' ? 'internal' : 'source',
        description: schema.description ?? '',
        schema,
        personalData: [...this.envelopePersonalData, ...markedFields(schema, documents, '/data')],
      });
      this.dataValidators.set(eventType, ajv.getSchema(schema.$id) as ValidateFunction);
    }
    const missing = EVENT_TYPES.filter((type) => !this.entries.has(type));
    if (missing.length > 0) throw new Error(`event types without a schema: ${missing.join(', ')}`);
  }

  has(type: string): type is EventType {
    return this.entries.has(type as EventType);
  }

  entry(type: EventType): CatalogEntry {
    return this.entries.get(type) as CatalogEntry;
  }

  /** Every entry, in type order, for `GET /v1/catalog`. */
  list(): CatalogEntry[] {
    return [...this.entries.values()];
  }

  /**
   * A copy of the event with every field its schemas mark `x-pii` replaced by `mask`'s placeholder (the
   * event itself is left as it was). The data of a type the catalog does not know is masked whole.
   */
  maskPersonalData<T extends CatalogEvent>(event: T, mask: PersonalDataMask): T {
    const copy = structuredClone(event);
    const fields = this.has(event.type)
      ? this.entry(event.type).personalData
      : [...this.envelopePersonalData, { pointer: '/data', kind: 'text' as const }];
    maskFields(copy as unknown as Record<string, unknown>, fields, mask);
    return copy;
  }

  /** Checks the CloudEvents context attributes (paths point into the event). */
  validateAttributes(event: unknown): ValidationIssue[] {
    return this.run(this.envelopeValidator, event, '');
  }

  /**
   * Checks `data` against the type's schema (paths start with `/data`). Emails and phones are trimmed first, in
   * place: `" Jane.Doe@Example.COM "` is the address `Jane.Doe@Example.COM`, not an invalid one.
   */
  validateData(type: EventType, data: unknown): ValidationIssue[] {
    if (typeof data === 'object' && data !== null && this.has(type))
      trimContactPoints({ data }, this.entry(type).personalData);
    return this.run(this.dataValidators.get(type) as ValidateFunction, data, '/data');
  }

  private run(validate: ValidateFunction, value: unknown, prefix: string): ValidationIssue[] {
    if (validate(value)) return [];
    return toValidationIssues(validate.errors as ErrorObject[], prefix);
  }
}

let shared: EventCatalog | undefined;

/** The process-wide catalog: schemas are compiled on first use, once. */
export function eventCatalog(): EventCatalog {
  shared ??= new EventCatalog();
  return shared;
}
