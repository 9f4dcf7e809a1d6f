import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { REPO_ROOT } from '../support/tessera-process';

export const BENCHMARKS_DOC = join(REPO_ROOT, 'docs', 'benchmarks.md');

/**
 * Replaces the text between `<!-- name:begin … -->` and `<!-- name:end -->` in docs/benchmarks.md with
 * `section` (which carries both markers) and formats the page as the repository does, so a fresh run leaves
 * `prettier --check` green.
 */
export async function writeBenchmarkSection(name: string, section: string): Promise<void> {
  const doc = readFileSync(BENCHMARKS_DOC, 'utf8');
  const pattern = new RegExp(`<!-- ${name}:begin[\\s\\S]*?<!-- ${name}:end -->`);
  if (!pattern.test(doc)) throw new Error(`docs/benchmarks.md has no ${name} markers`);
  const options = (await resolveConfig(BENCHMARKS_DOC)) ?? {};
  const formatted = await format(doc.replace(pattern, section), { ...options, filepath: BENCHMARKS_DOC });
  writeFileSync(BENCHMARKS_DOC, formatted);
}
