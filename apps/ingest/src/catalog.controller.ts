import { Controller, Get } from '@nestjs/common';
import { eventCatalog, type CatalogEntry } from '@tessera/events';

@Controller()
export class CatalogController {
  /** The event catalog: every type sources may send (and the ones Tessera emits), with its schema. */
  @Get('v1/catalog')
  list(): { types: CatalogEntry[] } {
    return { types: eventCatalog().list() };
  }
}
