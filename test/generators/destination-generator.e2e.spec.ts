import { readdirSync } from 'node:fs';
import * as path from 'node:path';
import { describeGeneratedPackage } from './generated-package';

// `nx g @tessera/destination-kit:destination` for real: the package builds and passes its tests as generated.
describeGeneratedPackage('@tessera/destination-kit:destination', 'destination', ({ name, absoluteRoot }) => {
  it('lays out a destination: definition, pinned API version, request builders, emulator, tests', () => {
    expect(readdirSync(path.join(absoluteRoot, 'src')).sort()).toEqual([
      'api-version.ts',
      'emulator',
      `${name}.destination.spec.ts`,
      `${name}.destination.ts`,
      'index.ts',
      'requests',
    ]);
  });
});
