import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { specsAvailable, specsDir } from './openapi-contract';

/** What a contract suite does for one ESP, given whether its spec folder exists and whether this is CI. */
export type SpecSuitePlan =
  | { kind: 'run'; dir: string }
  | { kind: 'fail'; dir: string; message: string }
  | { kind: 'absent'; dir: string; notice: string };

export function planSpecSuite(esp: string, ci = process.env['CI'] === 'true'): SpecSuitePlan {
  const dir = join(specsDir(), esp);
  if (specsAvailable(esp)) return { kind: 'run', dir };
  if (ci) return { kind: 'fail', dir, message: `spec folder ${dir} is missing: set TESSERA_SPECS_DIR` };
  return { kind: 'absent', dir, notice: `${esp} specs not found at ${dir}; contract tests not run\n` };
}

/**
 * Registers a jest suite that runs `body(dir)` against the ESP's spec folder (`<specsDir>/<esp>`). Without
 * the folder the suite fails on CI (`CI=true`), and elsewhere prints one line and registers a single test
 * asserting the folder is absent, so a developer without the specs sees why nothing ran.
 */
export function describeWithSpecs(esp: string, title: string, body: (dir: string) => void): void {
  const plan = planSpecSuite(esp);
  switch (plan.kind) {
    case 'run':
      describe(title, () => body(plan.dir));
      return;
    case 'fail':
      describe(title, () => {
        it(`needs the ${esp} spec folder`, () => {
          throw new Error(plan.message);
        });
      });
      return;
    case 'absent':
      process.stdout.write(plan.notice);
      describe(title, () => {
        it(`has no ${esp} spec folder at ${plan.dir}`, () => {
          expect(existsSync(plan.dir)).toBe(false);
        });
      });
      return;
  }
}
