import type {
  DeadLetterView,
  DestinationAction,
  DestinationStatus,
  ReplayReport,
  SourceStatus,
} from '@tessera/pipeline';

/** Machine output: one JSON document (dates as ISO 8601), newline-terminated. */
export function asJson(value: unknown): string {
  return `${JSON.stringify(value, null, 2)}\n`;
}

/** A time to the second, UTC, as people read it in a table. */
export function shortTime(at: Date | null | undefined): string {
  return at === null || at === undefined ? '-' : at.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** One line, at most `width` characters (an ellipsis marks a cut). */
export function oneLine(text: string, width: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length <= width ? flat : `${flat.slice(0, width - 1)}…`;
}

/** A plain-text table: a header row, then the rows, columns padded to their widest cell. */
export function renderTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, column) => (column === cells.length - 1 ? cell : cell.padEnd(widths[column] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${[line(headers), ...rows.map(line)].join('\n')}\n`;
}

const plural = (count: number, one: string, many = `${one}s`) => `${count} ${count === 1 ? one : many}`;

export function formatDeadLetterList(letters: readonly DeadLetterView[], limit: number): string {
  if (letters.length === 0) return 'no dead letters match\n';
  const table = renderTable(
    ['ID', 'BRAND', 'DESTINATION', 'CLASS', 'ATTEMPTS', 'LAST FAILED', 'CUSTOMER', 'REPLAYED', 'ERROR'],
    letters.map((letter) => [
      String(letter.id),
      letter.brand,
      letter.destinationId,
      letter.errorClass,
      String(letter.attempts),
      shortTime(letter.lastFailedAt),
      letter.customerId ?? '-',
      letter.replayedAt === undefined ? '-' : shortTime(letter.replayedAt),
      oneLine(letter.error, 60),
    ]),
  );
  const more =
    letters.length === limit
      ? `(the first ${limit}; --limit up to 1000, or narrow the filters, for more)\n`
      : '';
  return `${table}${more}`;
}

export function formatDeadLetterCounts(
  counts: readonly { destinationId: string; letters: number }[],
): string {
  if (counts.length === 0) return 'no dead letters\n';
  const total = counts.reduce((sum, count) => sum + count.letters, 0);
  return (
    renderTable(
      ['DESTINATION', 'LETTERS'],
      counts.map((count) => [count.destinationId, String(count.letters)]),
    ) + `total ${total}\n`
  );
}

/** One letter, field by field. The item itself is never shown: it holds contact points. */
export function formatDeadLetter(letter: DeadLetterView): string {
  const event =
    letter.sourceId === undefined
      ? '-'
      : `${letter.sourceId} ${letter.eventSource ?? ''} ${letter.eventId ?? ''}`.trim();
  const fields: [string, string][] = [
    ['id', String(letter.id)],
    ['brand', letter.brand],
    ['destination', letter.destinationId],
    ['operation', letter.operation],
    ['item key', letter.itemKey],
    ['customer', letter.customerId ?? '-'],
    ['event', event],
    ['error class', letter.errorClass],
    ['error', letter.error],
    ['ESP answer', letter.espAnswer ?? '-'],
    ['attempts', String(letter.attempts)],
    ['first failed', shortTime(letter.firstFailedAt)],
    ['last failed', shortTime(letter.lastFailedAt)],
    [
      'replayed',
      letter.replayedAt === undefined
        ? 'no (waiting)'
        : `${shortTime(letter.replayedAt)} (${plural(letter.replayCount, 'time')})`,
    ],
  ];
  const width = Math.max(...fields.map(([name]) => name.length));
  return fields.map(([name, value]) => `${`${name}:`.padEnd(width + 2)}${value}`).join('\n') + '\n';
}

export function formatReplayReport(report: ReplayReport): string {
  const lines = [
    `replayed ${plural(report.replayed, 'item')}; ${report.alreadyDelivered} already delivered (closed, nothing sent)`,
  ];
  const { erased, suppressed } = report.notSent;
  if (erased + suppressed > 0)
    lines.push(
      `not sent: ${erased} of erased people (deleted), ${suppressed} to suppressed contact points (discarded)`,
    );
  for (const letter of report.notWaiting) {
    lines.push(`letter ${letter.id} is not waiting: replayed at ${shortTime(letter.replayedAt)}`);
  }
  for (const skipped of report.skipped) {
    lines.push(
      `left waiting: ${plural(skipped.letters, 'letter')} of ${skipped.destinationId}, which this deployment does not run`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export function formatRehydration(outcome: { events: number }): string {
  return `queued ${plural(outcome.events, 'event')} for routing and delivery\n`;
}

export function formatDestinations(destinations: readonly DestinationStatus[]): string {
  if (destinations.length === 0) return 'no destinations\n';
  return renderTable(
    ['ID', 'BRAND', 'TYPE', 'STATE', 'SINCE', 'BY', 'AUTH FAILURES', 'DEAD LETTERS', 'REASON'],
    destinations.map((destination) => [
      destination.deployed ? destination.id : `${destination.id} (not run here)`,
      destination.brand,
      destination.type,
      destination.state,
      shortTime(destination.changedAt),
      destination.changedBy ?? '-',
      String(destination.authFailures),
      String(destination.deadLetters),
      oneLine(destination.reason ?? '-', 60),
    ]),
  );
}

const DONE: Record<DestinationAction, string> = {
  pause: 'paused',
  resume: 'resumed',
  disable: 'disabled',
  enable: 'enabled',
};

export function formatDestinationChange(
  result: { destination: DestinationStatus; changed: boolean },
  action: DestinationAction,
): string {
  const { destination } = result;
  if (!result.changed) return `${destination.id} is already ${destination.state}; nothing changed\n`;
  const reason = destination.reason === null ? '' : ` (${destination.reason})`;
  return (
    `${destination.id} ${DONE[action]}${reason}: now ${destination.state}, by ${destination.changedBy ?? '-'}; ` +
    'running workers apply it within 5 seconds\n'
  );
}

export function formatSources(sources: readonly SourceStatus[]): string {
  if (sources.length === 0) return 'no sources\n';
  return renderTable(
    ['ID', 'BRAND', 'HELD', 'SINCE', 'BY', 'REASON'],
    sources.map((source) => [
      source.brand === null ? `${source.id} (not in the workspace)` : source.id,
      source.brand ?? '-',
      source.held ? 'held' : 'no',
      shortTime(source.changedAt),
      source.changedBy ?? '-',
      oneLine(source.reason ?? '-', 60),
    ]),
  );
}

export function formatSourceHold(result: { source: SourceStatus; changed: boolean }): string {
  const { source } = result;
  const state = source.held ? 'held' : 'released';
  if (!result.changed) return `${source.id} is already ${state}; nothing changed\n`;
  return source.held
    ? `${source.id} held: its events are accepted and wait until it is released\n`
    : `${source.id} released: its waiting events flow within seconds\n`;
}
