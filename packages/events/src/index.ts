export * from './generated/event-types';
export { EventCatalog, eventCatalog, type CatalogEntry } from './event-catalog';
export type { ValidationIssue } from './validation-issue';
export type { CatalogEvent } from './catalog-event';
