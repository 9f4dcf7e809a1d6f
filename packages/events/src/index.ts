export * from './generated/event-types';
export { EventCatalog, eventCatalog, type CatalogEntry } from './event-catalog';
export type { ValidationIssue } from './validation-issue';
export type { CatalogEvent } from './catalog-event';
export {
  isPersonalDataPlaceholder,
  maskPersonalValue,
  PERSONAL_DATA_KINDS,
  PERSONAL_DATA_PLACEHOLDERS,
  placeholderMask,
  splitAroundPlaceholders,
  type PersonalDataField,
  type PersonalDataKind,
  type PersonalDataMask,
} from './personal-data';
