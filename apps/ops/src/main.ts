import { runOps } from './ops-command.runner';
import { openOpsSession } from './ops-session';

// `npm run ops -- <command>`: the operator's command line, on the same store and Redis as the workers.
void runOps(
  process.argv.slice(2),
  { stdout: process.stdout, stderr: process.stderr, env: process.env },
  openOpsSession,
).then(
  (code) => {
    process.exitCode = code;
    // Everything is closed by now; a connection that still lingers must not keep the shell waiting.
    setTimeout(() => process.exit(code), 2_000).unref();
  },
  (error: unknown) => {
    process.stderr.write(`ops: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);
