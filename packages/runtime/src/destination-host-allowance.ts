import { AllowedDestinationHosts } from '@tessera/destination-kit';
import { sandboxRoot } from './demo-workspace';
import type { Settings } from './settings';

/**
 * The hosts this deployment allows its destinations besides their ESPs' own: TESSERA_ALLOWED_DESTINATION_HOSTS,
 * and, on an embedded start that mounts the ESP sandbox, that sandbox (its `/sandbox` path on this process's
 * port, nothing else of this process: the console's API on the same port stays out of reach).
 */
export function destinationHostAllowance(
  settings: Pick<Settings, 'allowedDestinationHosts' | 'databaseUrl' | 'sandbox' | 'port' | 'host'>,
): AllowedDestinationHosts {
  const allowed = new AllowedDestinationHosts(settings.allowedDestinationHosts);
  const embedded = settings.databaseUrl === undefined;
  // Port 0 is picked at listen time: no destination can have named it.
  if (!embedded || !settings.sandbox || settings.port === 0) return allowed;
  const root = sandboxRoot(settings.port, settings.host);
  // On loopback, by any of its names (the ESP READMEs say localhost).
  const loopback = root === sandboxRoot(settings.port, undefined);
  return loopback
    ? allowed.with(root, `http://localhost:${settings.port}/sandbox`, `http://[::1]:${settings.port}/sandbox`)
    : allowed.with(root);
}
