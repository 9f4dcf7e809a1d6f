import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';

/*
 * `nx g @tessera/transform:plugin` for real, into this workspace: the generated package must typecheck, lint,
 * be formatted and pass its own tests exactly as generated. The package is not linked into node_modules (no
 * `npm install`): its code only imports `@tessera/transform` and `@tessera/events`, which are.
 */

const workspaceRoot = path.resolve(__dirname, '..', '..');
const name = `gen-check-${randomBytes(4).toString('hex')}`;
const projectName = `plugin-${name}`;
const projectRoot = `packages/${projectName}`;
const absoluteRoot = path.join(workspaceRoot, projectRoot);

interface RunResult {
  code: number | null;
  output: string;
}

/** Runs a workspace binary from node_modules/.bin in the workspace root; resolves with its exit code and output. */
function run(bin: string, args: string[], timeoutMs = 150_000): Promise<RunResult> {
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

describe(`nx g @tessera/transform:plugin ${name}`, () => {
  let generated: RunResult | undefined;

  beforeAll(async () => {
    if (existsSync(absoluteRoot)) throw new Error(`${projectRoot} exists already; refusing to overwrite it`);
    generated = await run('nx', ['g', '@tessera/transform:plugin', name, '--no-interactive']);
  }, 180_000);

  afterAll(() => {
    rmSync(absoluteRoot, { recursive: true, force: true });
  });

  it('generates the package and prints the next steps', () => {
    expect(generated).toMatchObject({ code: 0 });
    expect(generated?.output).toContain(`npx nx test ${projectName}`);
    expect(generated?.output).toContain('packages/destination-registry/src/plugin-registry.ts');
    expect(readdirSync(absoluteRoot).sort()).toEqual([
      'README.md',
      'jest.config.js',
      'package.json',
      'project.json',
      'src',
      'tsconfig.json',
    ]);
    expect(readdirSync(path.join(absoluteRoot, 'src')).sort()).toEqual([
      `${name}.plugin.spec.ts`,
      `${name}.plugin.ts`,
      'index.ts',
    ]);
  });

  it('typechecks', async () => {
    expect(await check('tsc', ['-p', `${projectRoot}/tsconfig.json`, '--noEmit'])).toMatchObject({ code: 0 });
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
    const again = await run('nx', ['g', '@tessera/transform:plugin', name, '--no-interactive']);
    expect(again.code).not.toBe(0);
    expect(again.output).toContain(`Cannot create ${projectRoot}: it already exists.`);
  });

  it('refuses a name carrying the plugin- prefix, with a clear message', async () => {
    const prefixed = await run('nx', ['g', '@tessera/transform:plugin', projectName, '--no-interactive']);
    expect(prefixed.code).not.toBe(0);
    expect(prefixed.output).toContain(
      `Invalid plugin name "${projectName}": give the plugin's name without the "plugin-" prefix (e.g. "${name}")`,
    );
    expect(existsSync(path.join(workspaceRoot, 'packages', `plugin-${projectName}`))).toBe(false);
  });
});
