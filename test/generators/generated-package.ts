import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import * as path from 'node:path';

export const workspaceRoot = path.resolve(__dirname, '..', '..');

export interface RunResult {
  code: number | null;
  output: string;
}

/** Runs a workspace binary from node_modules/.bin in the workspace root; resolves with its exit code and output. */
export function run(bin: string, args: string[], timeoutMs = 150_000): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = { ...process.env, NX_INTERACTIVE: 'false', FORCE_COLOR: '0' };
  delete env['NX_SKIP_FORMAT'];
  return new Promise((resolve, reject) => {
    const child = spawn(path.join(workspaceRoot, 'node_modules', '.bin', bin), args, {
      cwd: workspaceRoot,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    const timer = setTimeout(() => {
      output += `\n[killed after ${timeoutMs} ms]`;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

/** The command line with its result, so a failing assertion shows what ran and what it printed. */
async function check(bin: string, args: string[]): Promise<RunResult & { command: string }> {
  return { command: `${bin} ${args.join(' ')}`, ...(await run(bin, args)) };
}

export interface GeneratedPackage {
  /** The generated name (`gen-check-<hex>`). */
  name: string;
  projectName: string;
  projectRoot: string;
  absoluteRoot: string;
  /** What `nx g` printed and returned. */
  generated(): RunResult | undefined;
}

/**
 * Runs `nx g <generator> gen-check-<hex>` for real into this workspace and registers the checks every
 * generated package must pass as generated: typecheck, lint without warnings, formatting, its own tests, and
 * a clear refusal to generate over it. The package is deleted afterwards, even when a check fails. The
 * package is not linked into node_modules (no `npm install`): its code imports only linked packages.
 */
export function describeGeneratedPackage(
  generator: string,
  projectPrefix: string,
  body: (generated: GeneratedPackage) => void,
): void {
  const name = `gen-check-${randomBytes(4).toString('hex')}`;
  const projectName = `${projectPrefix}-${name}`;
  const projectRoot = `packages/${projectName}`;
  const absoluteRoot = path.join(workspaceRoot, projectRoot);
  let generated: RunResult | undefined;

  describe(`nx g ${generator} ${name}`, () => {
    beforeAll(async () => {
      if (existsSync(absoluteRoot))
        throw new Error(`${projectRoot} exists already; refusing to overwrite it`);
      generated = await run('nx', ['g', generator, name, '--no-interactive']);
    }, 180_000);

    afterAll(() => {
      rmSync(absoluteRoot, { recursive: true, force: true });
    });

    it('generates the package and prints the next steps', () => {
      expect(generated).toMatchObject({ code: 0 });
      expect(generated?.output).toContain(`npx nx test ${projectName}`);
    });

    it('typechecks', async () => {
      expect(await check('tsc', ['-p', `${projectRoot}/tsconfig.json`, '--noEmit'])).toMatchObject({
        code: 0,
      });
    });

    it('lints without errors or warnings', async () => {
      expect(await check('eslint', [projectRoot, '--max-warnings', '0'])).toMatchObject({ code: 0 });
    });

    it('is formatted', async () => {
      expect(await check('prettier', ['--check', projectRoot])).toMatchObject({ code: 0 });
    });

    it('passes its own tests', async () => {
      const result = await check('jest', ['-c', `${projectRoot}/jest.config.js`, '--ci']);
      expect(result).toMatchObject({ code: 0 });
      expect(result.output).toMatch(/Tests:\s+\d+ passed, \d+ total/);
    });

    it('refuses to generate over the existing package, with a clear message', async () => {
      const again = await run('nx', ['g', generator, name, '--no-interactive']);
      expect(again.code).not.toBe(0);
      expect(again.output).toContain(`Cannot create ${projectRoot}: it already exists.`);
    });

    body({ name, projectName, projectRoot, absoluteRoot, generated: () => generated });
  });
}
