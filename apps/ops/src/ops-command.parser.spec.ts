import { parseOpsCommand, UsageError } from './ops-command.parser';

function usageError(argv: string[]): string {
  try {
    parseOpsCommand(argv);
  } catch (error) {
    if (error instanceof UsageError) return error.message;
    throw error;
  }
  throw new Error(`expected a UsageError for ${argv.join(' ')}`);
}

describe('parseOpsCommand', () => {
  it('reads dead-letter filters, the limit and --json', () => {
    expect(
      parseOpsCommand([
        'dead-letters',
        'list',
        '--brand',
        'sd',
        '--destination=sd-braze',
        '--error-class',
        'rejected',
        '--error',
        'refused',
        '--limit',
        '20',
        '--json',
      ]),
    ).toEqual({
      name: 'dead-letters list',
      json: true,
      limit: 20,
      query: { brand: 'sd', destinationId: 'sd-braze', errorClass: 'rejected', errorContains: 'refused' },
    });
    expect(parseOpsCommand(['dead-letters', 'list'])).toEqual({
      name: 'dead-letters list',
      json: false,
      limit: 50,
      query: {},
    });
    expect(parseOpsCommand(['dead-letters', 'count', '--include-replayed'])).toEqual({
      name: 'dead-letters count',
      json: false,
      query: { includeReplayed: true },
    });
    expect(parseOpsCommand(['dead-letters', 'show', '42'])).toEqual({
      name: 'dead-letters show',
      json: false,
      id: 42,
    });
  });

  it('replays ids, --all or a filter: exactly one of them', () => {
    expect(parseOpsCommand(['dead-letters', 'replay', '3', '7', '3'])).toMatchObject({
      selection: { ids: [3, 7] },
    });
    expect(parseOpsCommand(['dead-letters', 'replay', '--all'])).toMatchObject({ selection: { all: true } });
    expect(parseOpsCommand(['dead-letters', 'replay', '--destination', 'sd-braze'])).toMatchObject({
      selection: { query: { destinationId: 'sd-braze' } },
    });
    expect(usageError(['dead-letters', 'replay'])).toBe(
      '`dead-letters replay` needs letter ids, --all, or a filter (--brand, --destination, --error-class, --error)',
    );
    expect(usageError(['dead-letters', 'replay', '3', '--all'])).toBe(
      '`dead-letters replay` takes letter ids, --all or filters: one of them, not several',
    );
    expect(usageError(['dead-letters', 'replay', '--all', '--brand', 'sd'])).toBe(
      '`dead-letters replay` takes letter ids, --all or filters: one of them, not several',
    );
    expect(usageError(['dead-letters', 'replay', 'x1'])).toBe(
      'a letter id is a positive whole number, got "x1"',
    );
  });

  it('reads rehydration by customer or by a time range, with an optional brand', () => {
    expect(parseOpsCommand(['rehydrate', '--customer', 'C1'])).toEqual({
      name: 'rehydrate',
      json: false,
      query: { customerId: 'C1' },
    });
    expect(
      parseOpsCommand(['rehydrate', '--from', '2026-11-01', '--to', '2026-11-24T09:00:00Z', '--brand', 'sd']),
    ).toEqual({
      name: 'rehydrate',
      json: false,
      query: { brand: 'sd', from: new Date('2026-11-01T00:00:00Z'), to: new Date('2026-11-24T09:00:00Z') },
    });
    expect(usageError(['rehydrate'])).toBe(
      '`rehydrate` needs --customer <id>, or --from <ISO> and --to <ISO>',
    );
    expect(usageError(['rehydrate', '--from', '2026-11-01'])).toBe('a time range needs both --from and --to');
    expect(usageError(['rehydrate', '--from', '2026-11-02', '--to', '2026-11-01'])).toBe(
      '--from must be before --to',
    );
    expect(usageError(['rehydrate', '--from', 'yesterday', '--to', '2026-11-01'])).toBe(
      '--from must be an ISO 8601 date or time (e.g. 2026-11-24 or 2026-11-24T09:00:00Z), got "yesterday"',
    );
  });

  it('reads destination and source changes with their reason', () => {
    expect(parseOpsCommand(['destinations', 'pause', 'sd-braze', '--reason', 'ESP maintenance'])).toEqual({
      name: 'destinations change',
      json: false,
      action: 'pause',
      destinationId: 'sd-braze',
      reason: 'ESP maintenance',
    });
    expect(parseOpsCommand(['destinations', 'enable', 'sd-braze', '--json'])).toEqual({
      name: 'destinations change',
      json: true,
      action: 'enable',
      destinationId: 'sd-braze',
    });
    expect(parseOpsCommand(['sources', 'release', 'sd-loyalty'])).toEqual({
      name: 'sources hold',
      json: false,
      sourceId: 'sd-loyalty',
      held: false,
    });
    expect(parseOpsCommand(['destinations', 'list'])).toEqual({ name: 'destinations list', json: false });
    expect(parseOpsCommand(['help'])).toEqual({ name: 'help' });
  });

  it('names the bad command, flag or value', () => {
    expect(usageError([])).toBe('no command given');
    expect(usageError(['dead-letter'])).toBe(
      'unknown command "dead-letter" (commands: dead-letters, destinations, sources, rehydrate, help)',
    );
    expect(usageError(['destinations'])).toBe(
      '`destinations` needs a command: list, pause, resume, disable, enable',
    );
    expect(usageError(['destinations', 'stop', 'sd-braze'])).toBe(
      'unknown destinations command "stop" (list, pause, resume, disable, enable)',
    );
    expect(usageError(['dead-letters', 'list', '--error-class', 'bogus'])).toBe(
      '--error-class must be one of validation, auth, retryable, rejected, got "bogus"',
    );
    expect(usageError(['dead-letters', 'list', '--limit', '5000'])).toBe(
      '--limit must be a whole number from 1 to 1000, got "5000"',
    );
    expect(usageError(['dead-letters', 'list', '--bogus'])).toBe(
      'unknown option --bogus for `dead-letters list` (options: --brand, --destination, --error-class, --error, --include-replayed, --limit, --json)',
    );
    expect(usageError(['destinations', 'list', '--brand', 'sd'])).toBe(
      'unknown option --brand for `destinations list` (options: --json)',
    );
    expect(usageError(['dead-letters', 'list', '--brand'])).toBe('--brand needs a value');
    expect(usageError(['dead-letters', 'list', '--brand='])).toBe('--brand needs a value');
    expect(usageError(['dead-letters', 'list', '--json=yes'])).toBe('--json takes no value');
    expect(usageError(['dead-letters', 'list', 'extra'])).toBe(
      'unexpected argument "extra" for `dead-letters list`',
    );
    expect(usageError(['destinations', 'pause'])).toBe('`destinations pause` needs a destination id');
    expect(usageError(['destinations', 'pause', 'a', 'b'])).toBe(
      '`destinations pause` takes one destination id, got 2',
    );
    expect(usageError(['dead-letters', 'show'])).toBe('`dead-letters show` needs a letter id');
  });
});
