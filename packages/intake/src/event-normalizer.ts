import type { CatalogEvent, EventCatalog, EventType, ValidationIssue } from '@tessera/events';
import type { RegisteredSource } from './source-directory';

export type NormalizedEvent =
  | { ok: true; event: CatalogEvent; sourceType?: string }
  | { ok: false; id: string | null; issues: ValidationIssue[] };

const CONTEXT_ATTRIBUTES = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'time',
  'subject',
  'datacontenttype',
  'dataschema',
  'data',
]);

/**
 * Checks one raw CloudEvent (already parsed JSON) and returns it as a catalog event: attributes validated
 * as sent (an event without an id is rejected, never given one), the type mapped through the source's
 * typeMap, `data` validated against that type's schema.
 */
export function normalizeEvent(
  raw: unknown,
  source: RegisteredSource,
  catalog: EventCatalog,
): NormalizedEvent {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    return { ok: false, id: null, issues: [{ path: '', message: 'must be a CloudEvent (a JSON object)' }] };
  }
  const attributes = raw as Record<string, unknown>;
  const id = typeof attributes.id === 'string' && attributes.id !== '' ? attributes.id : null;
  const issues = catalog.validateAttributes(attributes);
  if (attributes.data === undefined) issues.push({ path: '/data', message: 'is required' });
  if (issues.length > 0) return { ok: false, id, issues };

  const sentType = attributes.type as string;
  const mapped = source.typeMap[sentType];
  const type = mapped ?? sentType;
  if (!catalog.has(type)) {
    return {
      ok: false,
      id,
      issues: [
        {
          path: '/type',
          message: `unknown event type "${sentType}": use a catalog type (GET /v1/catalog) or map it in the source's typeMap`,
        },
      ],
    };
  }
  if (catalog.entry(type).origin !== 'source') {
    return {
      ok: false,
      id,
      issues: [{ path: '/type', message: `${type} is emitted by Tessera itself; sources cannot send it` }],
    };
  }
  const dataIssues = catalog.validateData(type as EventType, attributes.data);
  if (dataIssues.length > 0) return { ok: false, id, issues: dataIssues };

  const event: CatalogEvent = {
    specversion: '1.0',
    id: id as string,
    source: attributes.source as string,
    type: type as EventType,
    data: attributes.data as CatalogEvent['data'],
  };
  if (attributes.time !== undefined) event.time = attributes.time as string;
  if (attributes.subject !== undefined) event.subject = attributes.subject as string;
  if (attributes.dataschema !== undefined) event.dataschema = attributes.dataschema as string;
  const extensions = Object.entries(attributes).filter(([name]) => !CONTEXT_ATTRIBUTES.has(name));
  if (extensions.length > 0)
    event.extensions = Object.fromEntries(extensions) as Record<string, string | number | boolean>;
  return mapped === undefined ? { ok: true, event } : { ok: true, event, sourceType: sentType };
}
