import 'reflect-metadata';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { CONSOLE_CONTROLLERS, openApiDocument } from '../src';

// Writes the control plane's OpenAPI document to apps/console/openapi.json (committed: reviewers see the API
// change in the diff); with --check, fails when the committed file differs from what the routes declare.
const target = join(__dirname, '..', 'openapi.json');

async function main(): Promise<void> {
  const options = (await resolveConfig(target)) ?? {};
  const text = await format(JSON.stringify(openApiDocument(CONSOLE_CONTROLLERS, '1')), {
    ...options,
    parser: 'json',
  });
  if (process.argv.includes('--check')) {
    let committed = '';
    try {
      committed = readFileSync(target, 'utf8');
    } catch {
      committed = '';
    }
    if (committed !== text) {
      process.stderr.write(
        'apps/console/openapi.json is out of date: run `npx nx run console:generate` and commit it\n',
      );
      process.exit(1);
    }
    return;
  }
  writeFileSync(target, text);
}

void main();
