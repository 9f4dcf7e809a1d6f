import { SANDBOX_PREFIX } from '@tessera/destination-kit';
import { selectDestinationPackages } from '@tessera/destination-registry';
import type { TesseraRuntime } from '@tessera/runtime';

/** The URLs the sandbox serves, as printed at start-up. */
export function sandboxPaths(runtime: TesseraRuntime): Array<[string, string]> {
  return selectDestinationPackages(runtime.settings.destinations).map((entry): [string, string] => [
    `${entry.definition.name} sandbox`,
    `${SANDBOX_PREFIX}/${entry.createEmulator().esp}`,
  ]);
}
