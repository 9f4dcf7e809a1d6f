import { eventCatalog } from '@tessera/events';
import type { DemoEvent } from '../demo-members';

/** Every problem the event catalog finds in a demo event, as ingest would: attributes, type, data. */
export function catalogProblems({ event }: DemoEvent): string[] {
  const catalog = eventCatalog();
  const problems = catalog
    .validateAttributes(event)
    .map((issue) => `${event.id} ${issue.path} ${issue.message}`);
  if (!catalog.has(event.type) || catalog.entry(event.type).origin !== 'source') {
    return [...problems, `${event.id}: ${event.type} is not a type sources may send`];
  }
  // A copy: the catalog's validators apply schema defaults in place.
  const data = structuredClone(event.data);
  return [
    ...problems,
    ...catalog.validateData(event.type, data).map((issue) => `${event.id} ${issue.path} ${issue.message}`),
  ];
}
