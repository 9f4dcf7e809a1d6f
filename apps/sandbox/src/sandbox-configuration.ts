import { EspSandbox } from '@tessera/destination-kit';
import { selectDestinationPackages } from '@tessera/destination-registry';
import { DEMO_SANDBOX_CONFIG } from '@tessera/runtime';

/**
 * The sandbox of the selected destinations' emulators. While the demo workspace is active, each emulator that
 * takes a configuration starts with the demo's (DEMO_SANDBOX_CONFIG: the audiences, data extensions and
 * credentials the demo destinations expect); otherwise each keeps its defaults until `PUT _sandbox/config`.
 */
export function createSandbox(destinations: 'all' | readonly string[], demoActive: boolean): EspSandbox {
  return new EspSandbox(
    selectDestinationPackages(destinations).map((entry) => entry.createEmulator()),
    demoActive ? { configuration: DEMO_SANDBOX_CONFIG } : {},
  );
}
