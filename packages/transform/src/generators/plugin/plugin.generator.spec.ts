import { logger, readJson, type Tree } from '@nx/devkit';
import { createTreeWithEmptyWorkspace } from '@nx/devkit/testing';
import { PLUGIN_REGISTRY_FILE, pluginGenerator, pluginNames } from './plugin.generator';

describe('plugin generator', () => {
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
    expect(pluginNames('vip-points')).toEqual({
      fileName: 'vip-points',
      propertyName: 'vipPoints',
      className: 'VipPoints',
      displayName: 'Vip Points',
      exportName: 'vipPointsPlugin',
      projectName: 'plugin-vip-points',
      packageName: '@tessera/plugin-vip-points',
      projectRoot: 'packages/plugin-vip-points',
    });
  });

  it('generates the package files at the right paths, without the .template suffix', async () => {
    await pluginGenerator(tree, { name: 'my-plugin' });

    const files = tree
      .listChanges()
      .map((change) => change.path)
      .filter((file) => file.startsWith('packages/plugin-my-plugin/'))
      .sort();
    expect(files).toEqual([
      'packages/plugin-my-plugin/README.md',
      'packages/plugin-my-plugin/jest.config.js',
      'packages/plugin-my-plugin/package.json',
      'packages/plugin-my-plugin/project.json',
      'packages/plugin-my-plugin/src/index.ts',
      'packages/plugin-my-plugin/src/my-plugin.plugin.spec.ts',
      'packages/plugin-my-plugin/src/my-plugin.plugin.ts',
      'packages/plugin-my-plugin/tsconfig.json',
    ]);
  });

  it('fills the package, project and jest configuration with the derived names', async () => {
    await pluginGenerator(tree, { name: 'my-plugin' });

    expect(readJson(tree, 'packages/plugin-my-plugin/package.json')).toEqual({
      name: '@tessera/plugin-my-plugin',
      version: '0.1.0',
      private: true,
      description: expect.stringContaining('my-plugin'),
      main: 'src/index.ts',
      types: 'src/index.ts',
    });
    expect(readJson(tree, 'packages/plugin-my-plugin/project.json')).toEqual({
      name: 'plugin-my-plugin',
      $schema: '../../node_modules/nx/schemas/project-schema.json',
      projectType: 'library',
      sourceRoot: 'packages/plugin-my-plugin/src',
      tags: ['type:plugin'],
      targets: { typecheck: {}, test: {} },
    });
    expect(readJson(tree, 'packages/plugin-my-plugin/tsconfig.json')).toEqual({
      extends: '../../tsconfig.base.json',
      compilerOptions: { noEmit: true },
      include: ['src/**/*.ts', 'test/**/*.ts'],
    });
    expect(read(tree, 'packages/plugin-my-plugin/jest.config.js')).toContain(
      "displayName: 'plugin-my-plugin'",
    );
  });

  it('names the plugin, its config, its exports and its module after the plugin', async () => {
    await pluginGenerator(tree, { name: 'my-plugin' });
    const root = 'packages/plugin-my-plugin';

    const definition = read(tree, `${root}/src/my-plugin.plugin.ts`);
    expect(definition).toContain('export interface MyPluginConfig {');
    expect(definition).toContain('export const myPluginPlugin = definePlugin<MyPluginConfig>({');
    expect(definition).toContain("name: 'my-plugin',");
    expect(definition).toContain("segment: { type: 'string', minLength: 1, default: 'my-plugin' },");
    expect(definition).toContain("minPoints: { type: 'number', minimum: 0, default: 1000 },");
    expect(definition).toContain("if (event.type !== 'points.updated') return [];");
    const index = read(tree, `${root}/src/index.ts`);
    expect(index).toContain("export { myPluginPlugin, type MyPluginConfig } from './my-plugin.plugin';");
    expect(index).toContain('export const myPluginPluginModule: PluginModule = {');
    expect(index).toContain("module: '@tessera/plugin-my-plugin',");
    expect(index).toContain("exportName: 'myPluginPlugin',");
    expect(read(tree, `${root}/src/my-plugin.plugin.spec.ts`)).toContain(
      "import { myPluginPlugin, myPluginPluginModule } from './index';",
    );
    const readme = read(tree, `${root}/README.md`);
    expect(readme).toContain(PLUGIN_REGISTRY_FILE);
    expect(readme).toContain(
      "{ plugin: myPluginPlugin, module: '@tessera/plugin-my-plugin', exportName: 'myPluginPlugin' }",
    );
    expect(readme).toContain('npx nx test plugin-my-plugin');
    for (const file of tree.listChanges().map((change) => change.path)) {
      expect(read(tree, file)).not.toMatch(/<%|%>|__\w+__/);
    }
  });

  it('returns a callback that prints the next steps', async () => {
    const callback = await pluginGenerator(tree, { name: 'my-plugin' });
    const info = jest.spyOn(logger, 'info').mockImplementation(() => undefined);
    try {
      await callback();
      const printed = info.mock.calls.map((call) => String(call[0])).join('\n');
      expect(printed).toContain('npm install');
      expect(printed).toContain('npx nx test plugin-my-plugin');
      expect(printed).toContain(`add myPluginPluginModule to the plugin list in ${PLUGIN_REGISTRY_FILE}`);
    } finally {
      info.mockRestore();
    }
  });

  it.each([
    ['upper case', 'VipPoints'],
    ['a leading digit', '1vip'],
    ['underscores', 'vip_points'],
    ['a trailing dash', 'vip-'],
    ['double dashes', 'vip--points'],
    ['a path', '../vip'],
    ['an empty name', ''],
  ])('refuses a name with %s, saying what a valid name looks like', async (_problem, name) => {
    await expect(pluginGenerator(tree, { name })).rejects.toThrow(
      `Invalid plugin name ${JSON.stringify(name)}: use kebab-case — lower-case letters, digits and single dashes, starting with a letter (e.g. "vip-points" or "birthday-bonus").`,
    );
    expect(tree.listChanges().filter((change) => change.path.startsWith('packages/'))).toEqual([]);
  });

  it.each([
    ['plugin-vip-points', 'vip-points'],
    ['plugin', 'vip-points'],
  ])('refuses the name %s carrying the plugin- prefix', async (name, suggestion) => {
    await expect(pluginGenerator(tree, { name })).rejects.toThrow(
      `Invalid plugin name "${name}": give the plugin's name without the "plugin-" prefix (e.g. "${suggestion}"); the package is named plugin-<name>.`,
    );
    expect(tree.listChanges().filter((change) => change.path.startsWith('packages/'))).toEqual([]);
  });

  it('refuses a package that already exists and leaves it untouched', async () => {
    tree.write('packages/plugin-my-plugin/src/index.ts', 'export const keep = 1;\n');

    await expect(pluginGenerator(tree, { name: 'my-plugin' })).rejects.toThrow(
      'Cannot create packages/plugin-my-plugin: it already exists. Pick another name, or delete the folder first.',
    );
    expect(read(tree, 'packages/plugin-my-plugin/src/index.ts')).toBe('export const keep = 1;\n');
    expect(tree.exists('packages/plugin-my-plugin/src/my-plugin.plugin.ts')).toBe(false);
  });

  it('refuses a name whose project already exists elsewhere', async () => {
    tree.write(
      'libs/legacy/project.json',
      JSON.stringify({ name: 'plugin-my-plugin', root: 'libs/legacy', targets: {} }),
    );

    await expect(pluginGenerator(tree, { name: 'my-plugin' })).rejects.toThrow(
      'Cannot create project "plugin-my-plugin": a project of that name already exists at libs/legacy.',
    );
  });
});

function read(tree: Tree, file: string): string {
  const content = tree.read(file, 'utf-8');
  if (content === null) throw new Error(`${file} was not generated`);
  return content;
}
