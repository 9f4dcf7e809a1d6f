import type { EventDataMap, EventType } from './generated/event-types';

/**
 * A validated CloudEvent as Tessera carries it between stages: the context attributes, the catalog `type`
 * (after the source's typeMap), and `data` checked against that type's schema.
 */
export interface CatalogEvent<T extends EventType = EventType> {
  specversion: '1.0';
  id: string;
  source: string;
  type: T;
  time?: string;
  subject?: string;
  dataschema?: string;
  data: EventDataMap[T];
  /** CloudEvents extension attributes, as sent. */
  extensions?: Record<string, string | number | boolean>;
}
