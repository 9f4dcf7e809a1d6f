import { parseArgs } from 'node:util';
import {
  DEAD_LETTER_ERROR_CLASSES,
  type DeadLetterErrorClass,
  type DeadLetterQuery,
  type DestinationAction,
  type RehydrationQuery,
  type ReplaySelection,
} from '@tessera/pipeline';

/** A command line that cannot be run as given (exit code 2); the message names the bad part. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export type OpsCommand =
  | { name: 'help' }
  | { name: 'dead-letters list'; json: boolean; query: DeadLetterQuery; limit: number }
  | { name: 'dead-letters count'; json: boolean; query: DeadLetterQuery }
  | { name: 'dead-letters show'; json: boolean; id: number }
  | { name: 'dead-letters replay'; json: boolean; selection: ReplaySelection }
  | { name: 'rehydrate'; json: boolean; query: RehydrationQuery }
  | { name: 'destinations list'; json: boolean }
  | {
      name: 'destinations change';
      json: boolean;
      action: DestinationAction;
      destinationId: string;
      reason?: string;
    }
  | { name: 'sources list'; json: boolean }
  | { name: 'sources hold'; json: boolean; sourceId: string; held: boolean; reason?: string };

export const OPS_USAGE = `Usage: npm run ops -- <command> [options]   (add --json for machine output)

  dead-letters list    [--brand B] [--destination D] [--error-class C] [--error TEXT]
                       [--include-replayed] [--limit N]     letters, oldest first (N ≤ 1000, default 50)
  dead-letters count   [same filters]                       letters per destination
  dead-letters show    <id>                                 one letter (contact points masked)
  dead-letters replay  <id...> | --all | <filters>          queue letters again (each is taken once)
  rehydrate            --customer <id> | --from <ISO> --to <ISO>  [--brand B]
                                                            re-run stored events through routing
  destinations list                                         states, reasons, auth failures, letters
  destinations pause|resume|disable|enable <id> [--reason TEXT]
  sources list                                              holds
  sources hold|release <sourceId> [--reason TEXT]

  C is one of ${DEAD_LETTER_ERROR_CLASSES.join(', ')}.
  Exit codes: 0 done, 1 failed, 2 usage error (nothing was changed).
  Reads the same environment as the workers (DATABASE_URL, REDIS_URL, TESSERA_DATA_DIR, …).
`;

type OptionSpec = Record<string, { type: 'string' | 'boolean'; multiple?: boolean }>;

const FILTERS: OptionSpec = {
  brand: { type: 'string' },
  destination: { type: 'string' },
  'error-class': { type: 'string' },
  error: { type: 'string' },
};
const REASON: OptionSpec = { reason: { type: 'string' } };

const GROUPS: Record<string, Record<string, OptionSpec>> = {
  'dead-letters': {
    list: { ...FILTERS, 'include-replayed': { type: 'boolean' }, limit: { type: 'string' } },
    count: { ...FILTERS, 'include-replayed': { type: 'boolean' } },
    show: {},
    replay: { ...FILTERS, all: { type: 'boolean' } },
  },
  destinations: { list: {}, pause: REASON, resume: REASON, disable: REASON, enable: REASON },
  sources: { list: {}, hold: REASON, release: REASON },
};
const REHYDRATE: OptionSpec = {
  customer: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  brand: { type: 'string' },
};

const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

function parseOptions(command: string, args: string[], spec: OptionSpec): Parsed {
  const options: OptionSpec = { ...spec, json: { type: 'boolean' } };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (error) {
    const flag = /'(-[^' ]+)/.exec((error as Error).message)?.[1] ?? '';
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      const known = Object.keys(options).map((name) => `--${name}`);
      throw new UsageError(`unknown option ${flag} for \`${command}\` (options: ${known.join(', ')})`);
    }
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
      const takesValue = options[flag.replace(/^--/, '')]?.type === 'string';
      throw new UsageError(takesValue ? `${flag} needs a value` : `${flag} takes no value`);
    }
    throw new UsageError((error as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  for (const [name, value] of Object.entries(values)) {
    if (value === '') throw new UsageError(`--${name} needs a value`);
  }
  return { values, positionals: parsed.positionals };
}

function text(values: Parsed['values'], name: string): string | undefined {
  const value = values[name];
  return typeof value === 'string' ? value : undefined;
}

function noPositionals(command: string, positionals: string[]): void {
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument "${positionals[0]}" for \`${command}\``);
  }
}

function onePositional(command: string, positionals: string[], what: string): string {
  if (positionals.length !== 1) {
    throw new UsageError(
      positionals.length === 0
        ? `\`${command}\` needs ${what}`
        : `\`${command}\` takes one ${what.replace(/^(a|an|one) /, '')}, got ${positionals.length}`,
    );
  }
  return positionals[0] as string;
}

function letterId(raw: string): number {
  if (!/^\d{1,15}$/.test(raw) || Number(raw) < 1) {
    throw new UsageError(`a letter id is a positive whole number, got "${raw}"`);
  }
  return Number(raw);
}

function errorClass(raw: string | undefined): DeadLetterErrorClass | undefined {
  if (raw === undefined) return undefined;
  if (!DEAD_LETTER_ERROR_CLASSES.includes(raw as DeadLetterErrorClass)) {
    throw new UsageError(
      `--error-class must be one of ${DEAD_LETTER_ERROR_CLASSES.join(', ')}, got "${raw}"`,
    );
  }
  return raw as DeadLetterErrorClass;
}

function deadLetterQuery(values: Parsed['values']): DeadLetterQuery {
  const brand = text(values, 'brand');
  const destinationId = text(values, 'destination');
  const errorClassValue = errorClass(text(values, 'error-class'));
  const errorContains = text(values, 'error');
  return {
    ...(brand === undefined ? {} : { brand }),
    ...(destinationId === undefined ? {} : { destinationId }),
    ...(errorClassValue === undefined ? {} : { errorClass: errorClassValue }),
    ...(errorContains === undefined ? {} : { errorContains }),
    ...(values['include-replayed'] === true ? { includeReplayed: true } : {}),
  };
}

function limit(raw: string | undefined): number {
  if (raw === undefined) return 50;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || Number(raw) > 1000) {
    throw new UsageError(`--limit must be a whole number from 1 to 1000, got "${raw}"`);
  }
  return Number(raw);
}

function time(name: string, raw: string | undefined): Date | undefined {
  if (raw === undefined) return undefined;
  const at = new Date(raw);
  if (!ISO_TIME.test(raw) || Number.isNaN(at.getTime())) {
    throw new UsageError(
      `--${name} must be an ISO 8601 date or time (e.g. 2026-11-24 or 2026-11-24T09:00:00Z), got "${raw}"`,
    );
  }
  return at;
}

function rehydrationQuery(values: Parsed['values']): RehydrationQuery {
  const customerId = text(values, 'customer');
  const brand = text(values, 'brand');
  const from = time('from', text(values, 'from'));
  const to = time('to', text(values, 'to'));
  if ((from === undefined) !== (to === undefined)) {
    throw new UsageError(`a time range needs both --from and --to`);
  }
  if (customerId === undefined && from === undefined) {
    throw new UsageError('`rehydrate` needs --customer <id>, or --from <ISO> and --to <ISO>');
  }
  if (from !== undefined && to !== undefined && from >= to) {
    throw new UsageError(`--from must be before --to`);
  }
  return {
    ...(customerId === undefined ? {} : { customerId }),
    ...(brand === undefined ? {} : { brand }),
    ...(from === undefined ? {} : { from }),
    ...(to === undefined ? {} : { to }),
  };
}

function replaySelection(values: Parsed['values'], positionals: string[]): ReplaySelection {
  const query = deadLetterQuery(values);
  const filtered = Object.keys(query).length > 0;
  const all = values['all'] === true;
  const ways = [positionals.length > 0, all, filtered].filter(Boolean).length;
  if (ways === 0) {
    throw new UsageError(
      '`dead-letters replay` needs letter ids, --all, or a filter (--brand, --destination, --error-class, --error)',
    );
  }
  if (ways > 1) {
    throw new UsageError(
      '`dead-letters replay` takes letter ids, --all or filters: one of them, not several',
    );
  }
  if (positionals.length > 0) return { ids: [...new Set(positionals.map(letterId))] };
  return all ? { all: true } : { query };
}

/** Reads `npm run ops -- …`'s arguments into a command, or throws a UsageError naming what is wrong. */
export function parseOpsCommand(argv: readonly string[]): OpsCommand {
  const [group, action, ...rest] = argv;
  if (group === undefined) throw new UsageError('no command given');
  if (group === 'help' || group === '--help' || group === '-h') return { name: 'help' };

  if (group === 'rehydrate') {
    const { values, positionals } = parseOptions('rehydrate', argv.slice(1), REHYDRATE);
    noPositionals('rehydrate', positionals);
    return { name: 'rehydrate', json: values['json'] === true, query: rehydrationQuery(values) };
  }

  const commands = GROUPS[group];
  if (commands === undefined) {
    throw new UsageError(
      `unknown command "${group}" (commands: ${[...Object.keys(GROUPS), 'rehydrate', 'help'].join(', ')})`,
    );
  }
  const names = Object.keys(commands).join(', ');
  if (action === undefined || action.startsWith('-')) {
    throw new UsageError(`\`${group}\` needs a command: ${names}`);
  }
  const spec = commands[action];
  if (spec === undefined) throw new UsageError(`unknown ${group} command "${action}" (${names})`);
  const command = `${group} ${action}`;
  const { values, positionals } = parseOptions(command, rest, spec);
  const json = values['json'] === true;
  const reason = text(values, 'reason');

  switch (command) {
    case 'dead-letters list':
      noPositionals(command, positionals);
      return { name: command, json, query: deadLetterQuery(values), limit: limit(text(values, 'limit')) };
    case 'dead-letters count':
      noPositionals(command, positionals);
      return { name: command, json, query: deadLetterQuery(values) };
    case 'dead-letters show':
      return { name: command, json, id: letterId(onePositional(command, positionals, 'a letter id')) };
    case 'dead-letters replay':
      return { name: command, json, selection: replaySelection(values, positionals) };
    case 'destinations list':
    case 'sources list':
      noPositionals(command, positionals);
      return { name: command, json };
    case 'sources hold':
    case 'sources release':
      return {
        name: 'sources hold',
        json,
        sourceId: onePositional(command, positionals, 'a source id'),
        held: action === 'hold',
        ...(reason === undefined ? {} : { reason }),
      };
    default:
      return {
        name: 'destinations change',
        json,
        action: action as DestinationAction,
        destinationId: onePositional(command, positionals, 'a destination id'),
        ...(reason === undefined ? {} : { reason }),
      };
  }
}
