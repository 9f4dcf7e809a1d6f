import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { describeGeneratedPackage, run, workspaceRoot } from './generated-package';

// `nx g @tessera/transform:plugin` for real: the package builds and passes its tests as generated.
describeGeneratedPackage('@tessera/transform:plugin', 'plugin', (pkg) => {
  it('lays out a plugin package and says where to register it', () => {
    expect(pkg.generated()?.output).toContain('packages/destination-registry/src/plugin-registry.ts');
    expect(readdirSync(pkg.absoluteRoot).sort()).toEqual([
      'README.md',
      'jest.config.js',
      'package.json',
      'project.json',
      'src',
      'tsconfig.json',
    ]);
    expect(readdirSync(path.join(pkg.absoluteRoot, 'src')).sort()).toEqual([
      `${pkg.name}.plugin.spec.ts`,
      `${pkg.name}.plugin.ts`,
      'index.ts',
    ]);
  });

  it('refuses a name carrying the plugin- prefix, with a clear message', async () => {
    const prefixed = await run('nx', ['g', '@tessera/transform:plugin', pkg.projectName, '--no-interactive']);
    expect(prefixed.code).not.toBe(0);
    expect(prefixed.output).toContain(
      `Invalid plugin name "${pkg.projectName}": give the plugin's name without the "plugin-" prefix (e.g. "${pkg.name}")`,
    );
    expect(existsSync(path.join(workspaceRoot, 'packages', `plugin-${pkg.projectName}`))).toBe(false);
  });
});
