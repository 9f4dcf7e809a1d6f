import type { EspSandbox } from '@tessera/destination-kit';
import { ConfigurationError, loadSettings } from '@tessera/runtime';
import { createSandbox } from './sandbox-configuration';

// The sandbox alone: no Redis, no store, just the emulators on a port (default 8081), for ESP-side demos and
// for pointing a destination's baseUrl at from anywhere (running it is asking for it: TESSERA_SANDBOX is on).
// Its emulators start with the demo's configuration while TESSERA_DEMO is on (its default outside production),
// as in the all-in-one's demo.
async function main(): Promise<void> {
  let sandbox: EspSandbox;
  let port: number;
  let host: string;
  try {
    const settings = loadSettings({
      ...process.env,
      PORT: process.env['PORT'] ?? '8081',
      TESSERA_SANDBOX: 'on',
    });
    sandbox = createSandbox(settings.destinations, settings.demo);
    port = settings.port;
    host = settings.host;
  } catch (error) {
    if (error instanceof ConfigurationError) {
      process.stderr.write(`tessera sandbox: cannot start: ${error.message}\n`);
      process.exit(1);
    }
    throw error;
  }
  const root = await sandbox.listen(port, host).catch((error: NodeJS.ErrnoException) => {
    process.stderr.write(
      `tessera sandbox: cannot start: PORT: cannot listen on ${host}:${port} (${error.code ?? error.message})\n`,
    );
    process.exit(1);
  });
  const lines = sandbox.esps.map((esp) => `  ${esp.padEnd(22)} ${root}/${esp}`);
  process.stdout.write(`\nTessera ESP sandbox is running:\n${lines.join('\n')}\n\n`);
  const stop = () => void sandbox.close().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

void main();
