/**
 * Derives the catalog's TypeScript types from its JSON Schemas (the schemas are the only source of truth).
 * `npx nx run events:generate` rewrites src/generated/event-types.ts; a unit test fails when it drifts.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { compile, type JSONSchema } from 'json-schema-to-typescript';

export const schemasDir = join(__dirname, '..', 'schemas');
export const generatedFile = join(__dirname, '..', 'src', 'generated', 'event-types.ts');

// Constraints that only validate (at least one identifier; if channel is email then email is required)
// have no TypeScript shape; left in, json-schema-to-typescript turns them into index signatures.
function withoutValidationOnlyKeywords(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(withoutValidationOnlyKeywords);
  if (node === null || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key === 'if' || key === 'then' || key === 'else') continue;
    if (
      key === 'anyOf' &&
      Array.isArray(value) &&
      value.every((branch) => Object.keys(branch).join() === 'required')
    ) {
      continue;
    }
    out[key] = withoutValidationOnlyKeywords(value);
  }
  if (Array.isArray(out.allOf)) {
    out.allOf = out.allOf.filter((branch) => Object.keys(branch as object).length > 0);
  }
  return out;
}

function loadSchemas(): Map<string, JSONSchema> {
  const byId = new Map<string, JSONSchema>();
  for (const file of readdirSync(schemasDir)
    .filter((name) => name.endsWith('.schema.json'))
    .sort()) {
    const schema = JSON.parse(readFileSync(join(schemasDir, file), 'utf8')) as JSONSchema;
    byId.set(String(schema.$id), withoutValidationOnlyKeywords(schema) as JSONSchema);
  }
  return byId;
}

export async function renderEventTypes(): Promise<string> {
  const byId = loadSchemas();
  const eventIds = [...byId.keys()].filter((id) => id.startsWith('urn:tessera:event:'));
  const typeOf = (id: string) => id.split(':')[3];
  const root: JSONSchema = {
    title: 'EventDataMap',
    description: 'The `data` of every catalog event type, keyed by its CloudEvents `type`.',
    type: 'object',
    properties: {
      ...Object.fromEntries(eventIds.map((id) => [typeOf(id), { $ref: id }])),
    },
    required: eventIds.map(typeOf),
    additionalProperties: false,
  };
  const body = await compile(root, 'EventDataMap', {
    bannerComment: '',
    additionalProperties: false,
    strictIndexSignatures: true,
    format: true,
    style: { singleQuote: true, printWidth: 110, trailingComma: 'all' },
    $refOptions: {
      resolve: {
        tessera: {
          order: 1,
          canRead: /^urn:tessera:/,
          read: (file: { url: string }) => JSON.stringify(byId.get(file.url.split('#')[0])),
        },
      },
    },
  } as Parameters<typeof compile>[2]);
  const eventTypes = eventIds.map(typeOf);
  return [
    '// Generated from packages/events/schemas by scripts/generate-types.ts. Do not edit: run `npx nx run events:generate`.',
    '',
    body,
    `/** Every CloudEvents \`type\` in the catalog. */`,
    `export const EVENT_TYPES = ${JSON.stringify(eventTypes, null, 2).replace(/"/g, "'")} as const;`,
    '',
    'export type EventType = (typeof EVENT_TYPES)[number];',
    '',
  ].join('\n');
}

if (require.main === module) {
  const checkOnly = process.argv.includes('--check');
  renderEventTypes().then(
    (text) => {
      if (checkOnly) {
        if (readFileSync(generatedFile, 'utf8') === text) return;
        process.stderr.write(
          `${generatedFile} is out of date with the schemas: run \`npx nx run events:generate\`\n`,
        );
        process.exit(1);
      }
      writeFileSync(generatedFile, text);
      process.stdout.write(`wrote ${generatedFile}\n`);
    },
    (error: unknown) => {
      process.stderr.write(`${String(error)}\n`);
      process.exit(1);
    },
  );
}
