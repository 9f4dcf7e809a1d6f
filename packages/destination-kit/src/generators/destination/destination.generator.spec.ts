import { logger, readJson, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { destinationGenerator, destinationNames } from './destination.generator';

describe('destination generator', () => {
  let tree: Tree;
  const skipFormat = process.env['NX_SKIP_FORMAT'];

  // formatFiles needs prettier loaded as ESM (the e2e test checks the formatted output); skip it here.
  beforeAll(() => {
    process.env['NX_SKIP_FORMAT'] = 'true';
  });

  afterAll(() => {
    if (skipFormat === undefined) delete process.env['NX_SKIP_FORMAT'];
    else process.env['NX_SKIP_FORMAT'] = skipFormat;
  });

  beforeEach(() => {
    tree = createTreeWithEmptyWorkspace();
  });

  it('derives every name form from the kebab-case name', () => {
    expect(destinationNames('acme-mail')).toEqual({
      fileName: 'acme-mail',
      propertyName: 'acmeMail',
      className: 'AcmeMail',
      constantName: 'ACME_MAIL',
      displayName: 'Acme Mail',
      projectName: 'destination-acme-mail',
      packageName: '@tessera/destination-acme-mail',
      projectRoot: 'packages/destination-acme-mail',
    });
  });

  it('generates the package files at the right paths, without the .template suffix', async () => {
    await destinationGenerator(tree, { name: 'acme' });

    const files = tree
      .listChanges()
      .map((change) => change.path)
      .filter((file) => file.startsWith('packages/destination-acme/'))
      .sort();
    expect(files).toEqual([
      'packages/destination-acme/README.md',
      'packages/destination-acme/jest.config.js',
      'packages/destination-acme/package.json',
      'packages/destination-acme/project.json',
      'packages/destination-acme/src/acme.destination.spec.ts',
      'packages/destination-acme/src/acme.destination.ts',
      'packages/destination-acme/src/api-version.ts',
      'packages/destination-acme/src/emulator/acme.emulator.spec.ts',
      'packages/destination-acme/src/emulator/acme.emulator.ts',
      'packages/destination-acme/src/index.ts',
      'packages/destination-acme/src/requests/upsert-profiles.request.spec.ts',
      'packages/destination-acme/src/requests/upsert-profiles.request.ts',
      'packages/destination-acme/tsconfig.json',
    ]);
  });

  it('fills the package, project and jest configuration with the derived names', async () => {
    await destinationGenerator(tree, { name: 'acme' });

    expect(readJson(tree, 'packages/destination-acme/package.json')).toMatchObject({
      name: '@tessera/destination-acme',
      private: true,
      main: 'src/index.ts',
      types: 'src/index.ts',
      description: expect.stringContaining('Acme'),
    });
    expect(readJson(tree, 'packages/destination-acme/project.json')).toEqual({
      name: 'destination-acme',
      $schema: '../../node_modules/nx/schemas/project-schema.json',
      projectType: 'library',
      sourceRoot: 'packages/destination-acme/src',
      tags: ['type:destination'],
      targets: { typecheck: {}, test: {} },
    });
    expect(readJson(tree, 'packages/destination-acme/tsconfig.json')).toEqual({
      extends: '../../tsconfig.base.json',
      compilerOptions: { noEmit: true },
      include: ['src/**/*.ts', 'test/**/*.ts'],
    });
    expect(read(tree, 'packages/destination-acme/jest.config.js')).toContain(
      "displayName: 'destination-acme'",
    );
  });

  it('names the definition, the emulator, the settings and the pinned API version after the ESP', async () => {
    await destinationGenerator(tree, { name: 'acme-mail' });
    const root = 'packages/destination-acme-mail/src';

    expect(read(tree, `${root}/api-version.ts`)).toContain("export const ACME_MAIL_API_VERSION = 'v1';");
    const definition = read(tree, `${root}/acme-mail.destination.ts`);
    expect(definition).toContain('export const acmeMailDestination = defineDestination<AcmeMailSettings>({');
    expect(definition).toContain("type: 'acme-mail',");
    expect(definition).toContain("name: 'Acme Mail',");
    expect(definition).toContain("default: 'https://api.acme-mail.example',");
    expect(definition).toContain("hosts: ['api.acme-mail.example'],");
    expect(definition).toContain("'x-api-version': ACME_MAIL_API_VERSION,");
    // Limits are declared once per destination, as rate budgets, not per operation.
    expect(definition).toContain('rateBudgets: {');
    expect(definition).not.toContain('rateLimits');
    const emulator = read(tree, `${root}/emulator/acme-mail.emulator.ts`);
    expect(emulator).toContain('export class AcmeMailEmulator implements EspEmulator {');
    expect(emulator).toContain("readonly esp = 'acme-mail';");
    expect(read(tree, `${root}/index.ts`)).toContain(
      'export const acmeMailPackage: DestinationPackage<AcmeMailSettings> = {',
    );
    expect(read(tree, 'packages/destination-acme-mail/README.md')).toContain(
      'packages/destination-registry/src/destination-registry.ts',
    );
    for (const file of tree.listChanges().map((change) => change.path)) {
      expect(read(tree, file)).not.toMatch(/<%|%>|__\w+__/);
    }
  });

  it('returns a callback that prints the next steps', async () => {
    const callback = await destinationGenerator(tree, { name: 'acme' });
    const info = jest.spyOn(logger, 'info').mockImplementation(() => undefined);
    try {
      await callback();
      const printed = info.mock.calls.map((call) => String(call[0])).join('\n');
      expect(printed).toContain('npm install');
      expect(printed).toContain('npx nx test destination-acme');
      expect(printed).toContain('packages/destination-registry/src/destination-registry.ts');
    } finally {
      info.mockRestore();
    }
  });

  it.each([
    ['upper case', 'Acme'],
    ['a leading digit', '1acme'],
    ['underscores', 'acme_mail'],
    ['a trailing dash', 'acme-'],
    ['double dashes', 'acme--mail'],
    ['a path', '../acme'],
    ['an empty name', ''],
  ])('refuses a name with %s, saying what a valid name looks like', async (_problem, name) => {
    await expect(destinationGenerator(tree, { name })).rejects.toThrow(
      `Invalid destination name ${JSON.stringify(name)}: use kebab-case — lower-case letters, digits and single dashes, starting with a letter (e.g. "acme" or "acme-mail").`,
    );
    expect(tree.listChanges().filter((change) => change.path.startsWith('packages/'))).toEqual([]);
  });

  it('refuses a name carrying the destination- prefix', async () => {
    await expect(destinationGenerator(tree, { name: 'destination-acme' })).rejects.toThrow(
      'Invalid destination name "destination-acme": give the ESP\'s name without the "destination-" prefix (e.g. "acme")',
    );
  });

  it('refuses a package that already exists and leaves it untouched', async () => {
    tree.write('packages/destination-acme/src/index.ts', 'export const keep = 1;\n');

    await expect(destinationGenerator(tree, { name: 'acme' })).rejects.toThrow(
      'Cannot create packages/destination-acme: it already exists. Pick another name, or delete the folder first.',
    );
    expect(read(tree, 'packages/destination-acme/src/index.ts')).toBe('export const keep = 1;\n');
  });

  it('refuses a name whose project already exists elsewhere', async () => {
    tree.write(
      'libs/legacy/project.json',
      JSON.stringify({ name: 'destination-acme', root: 'libs/legacy', targets: {} }),
    );

    await expect(destinationGenerator(tree, { name: 'acme' })).rejects.toThrow(
      'Cannot create project "destination-acme": a project of that name already exists at libs/legacy.',
    );
  });
});

function read(tree: Tree, file: string): string {
  const content = tree.read(file, 'utf-8');
  if (content === null) throw new Error(`${file} was not generated`);
  return content;
}
