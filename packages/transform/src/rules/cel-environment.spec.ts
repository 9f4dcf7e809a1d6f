import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT_DATA_INTEGER_FIELDS, LINE_ITEM_INTEGER_FIELDS } from './cel-environment';

type Schema = { type?: string; $ref?: string; properties?: Record<string, Schema>; items?: Schema };

const schemasDir = join(__dirname, '..', '..', '..', 'events', 'schemas');
const common = JSON.parse(readFileSync(join(schemasDir, 'common.schema.json'), 'utf8')) as {
  $defs: Record<string, Schema>;
};

function resolve(schema: Schema): Schema {
  const ref = schema.$ref?.match(/^urn:tessera:schema:common#\/\$defs\/(.+)$/);
  return ref ? resolve(common.$defs[ref[1]]) : schema;
}

describe('event.data integer fields', () => {
  it('are exactly the integer fields the catalog schemas declare', () => {
    const topLevel = new Set<string>();
    const lineItem = new Set<string>();
    for (const name of readdirSync(schemasDir).filter((file) =>
      /^[a-z_]+\.[a-z_0-9]+\.schema\.json$/.test(file),
    )) {
      const schema = JSON.parse(readFileSync(join(schemasDir, name), 'utf8')) as Schema;
      for (const [field, property] of Object.entries(schema.properties ?? {})) {
        const resolved = resolve(property);
        if (resolved.type === 'integer') topLevel.add(field);
        if (field === 'items' && resolved.items) {
          for (const [itemField, itemProperty] of Object.entries(resolve(resolved.items).properties ?? {})) {
            if (resolve(itemProperty).type === 'integer') lineItem.add(itemField);
          }
        }
      }
    }
    expect([...topLevel].sort()).toEqual([...EVENT_DATA_INTEGER_FIELDS].sort());
    expect([...lineItem].sort()).toEqual([...LINE_ITEM_INTEGER_FIELDS].sort());
  });
});
