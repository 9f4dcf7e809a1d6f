import { SANDBOX_PREFIX } from '@tessera/destination-kit';
import { selectDestinationPackages } from '@tessera/destination-registry';
import type { TesseraRuntime } from '@tessera/runtime';

/** The URLs the sandbox serves, as printed at start-up. */
export function sandboxPaths(runtime: TesseraRuntime): Array<[string, string]> {
  return selectDestinationPackages(runtime.settings.destinations).map((entry): [string, string] => [
    `${entry.definition.name} sandbox`,
    // An emulator mounts at its destination's type (the registry's tests hold every package to it).
    `${SANDBOX_PREFIX}/${entry.definition.type}`,
  ]);
}
