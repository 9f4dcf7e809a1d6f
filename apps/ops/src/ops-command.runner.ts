import { OperationRefusedError, type PipelineOperations, UnknownReferenceError } from '@tessera/pipeline';
import { ConfigurationError, RedisUnavailableError } from '@tessera/runtime';
import { StoreInUseError } from '@tessera/store';
import { OPS_USAGE, type OpsCommand, parseOpsCommand, UsageError } from './ops-command.parser';
import {
  asJson,
  formatDeadLetter,
  formatDeadLetterCounts,
  formatDeadLetterList,
  formatDestinationChange,
  formatDestinations,
  formatRehydration,
  formatReplayReport,
  formatSourceHold,
  formatSources,
} from './ops-report.formatter';
import { ProgressLine, type ProgressStream } from './progress-line';
import type { OpsSession } from './ops-session';

/** The line after a usage error: where the commands are listed. */
export const USAGE_HINT = '`npm run ops -- help` lists the commands and their options';

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

export interface OpsIo {
  stdout: { write(text: string): unknown };
  stderr: ProgressStream & NodeJS.WritableStream;
  env: Record<string, string | undefined>;
}

export type OpenOpsSession = (
  env: Record<string, string | undefined>,
  stderr: NodeJS.WritableStream,
) => Promise<OpsSession>;

/** What the operator reads when PGlite is open in another process (npm start, npm run worker). */
export function storeInUseMessage(error: StoreInUseError): string {
  const owner = error.pid === undefined ? 'another process' : `process ${error.pid}`;
  return (
    `ops: the embedded store (PGlite in ${error.folder}) is in use by ${owner}, most likely \`npm start\` ` +
    'or `npm run worker`; PGlite allows one process at a time. Stop that process and run the command again, ' +
    'or run Tessera on PostgreSQL (DATABASE_URL) to operate it while it runs. ' +
    `If no Tessera process runs, delete ${error.lockFile}.`
  );
}

/** Runs one ops command line; resolves with its exit code. Usage errors never open the store. */
export async function runOps(
  argv: readonly string[],
  io: OpsIo,
  openSession: OpenOpsSession,
): Promise<number> {
  let command: OpsCommand;
  try {
    command = parseOpsCommand(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    io.stderr.write(`ops: ${error.message}\n${USAGE_HINT}\n`);
    return EXIT_USAGE;
  }
  if (command.name === 'help') {
    io.stdout.write(OPS_USAGE);
    return EXIT_OK;
  }

  let session: OpsSession;
  try {
    session = await openSession(io.env, io.stderr);
  } catch (error) {
    if (error instanceof ConfigurationError && error.cause instanceof StoreInUseError) {
      io.stderr.write(`${storeInUseMessage(error.cause)}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof ConfigurationError || error instanceof RedisUnavailableError) {
      io.stderr.write(`ops: cannot start: ${error.message}\n`);
      return EXIT_FAILED;
    }
    throw error;
  }
  try {
    io.stdout.write(await execute(command, session.operations, io));
    return EXIT_OK;
  } catch (error) {
    if (error instanceof UnknownReferenceError) {
      io.stderr.write(`ops: ${error.message}\n`);
      return EXIT_USAGE;
    }
    if (error instanceof OperationRefusedError) {
      io.stderr.write(`ops: ${error.message}\n`);
      return EXIT_FAILED;
    }
    io.stderr.write(`ops: ${command.name} failed: ${(error as Error).message}\n`);
    return EXIT_FAILED;
  } finally {
    await session.close();
  }
}

/** Runs a parsed command and renders its result, as JSON or for people. */
async function execute(command: OpsCommand, operations: PipelineOperations, io: OpsIo): Promise<string> {
  switch (command.name) {
    case 'help':
      return OPS_USAGE;
    case 'dead-letters list': {
      const letters = await operations.listDeadLetters(command.query, command.limit);
      return command.json ? asJson(letters) : formatDeadLetterList(letters, command.limit);
    }
    case 'dead-letters count': {
      const counts = await operations.countDeadLetters(command.query);
      return command.json ? asJson(counts) : formatDeadLetterCounts(counts);
    }
    case 'dead-letters show': {
      const letter = await operations.showDeadLetter(command.id);
      return command.json ? asJson(letter) : formatDeadLetter(letter);
    }
    case 'dead-letters replay': {
      const report = await operations.replayDeadLetters(command.selection);
      return command.json ? asJson(report) : formatReplayReport(report);
    }
    case 'rehydrate': {
      const progress = new ProgressLine(io.stderr);
      try {
        const outcome = await operations.rehydrate(command.query, ({ read, queued }) =>
          progress.update(`rehydrate: ${read} events read, ${queued} queued for routing`),
        );
        return command.json ? asJson(outcome) : formatRehydration(outcome);
      } finally {
        progress.done();
      }
    }
    case 'destinations list': {
      const destinations = await operations.listDestinations();
      return command.json ? asJson(destinations) : formatDestinations(destinations);
    }
    case 'destinations change': {
      const result = await operations.changeDestinationState(
        command.destinationId,
        command.action,
        command.reason,
      );
      return command.json ? asJson(result) : formatDestinationChange(result, command.action);
    }
    case 'sources list': {
      const sources = await operations.listSources();
      return command.json ? asJson(sources) : formatSources(sources);
    }
    case 'sources hold': {
      const result = await operations.holdSource(command.sourceId, command.held, command.reason);
      return command.json ? asJson(result) : formatSourceHold(result);
    }
  }
}
