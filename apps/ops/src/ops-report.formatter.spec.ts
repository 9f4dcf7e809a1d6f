import type { DeadLetterView, DestinationStatus } from '@tessera/pipeline';
import {
  asJson,
  formatDeadLetter,
  formatDeadLetterCounts,
  formatDeadLetterList,
  formatDestinationChange,
  formatDestinations,
  formatReplayReport,
  formatSourceHold,
  oneLine,
  renderTable,
} from './ops-report.formatter';

const letter: DeadLetterView = {
  id: 7,
  brand: 'sd',
  destinationId: 'sd-braze',
  operation: 'upsertProfiles',
  itemKey: 'item-1',
  sourceId: 'sd-loyalty',
  eventSource: 'https://loyalty.example.com',
  eventId: 'e-1',
  customerId: 'C1',
  errorClass: 'rejected',
  error: 'Braze: refused [email]',
  espAnswer: '{"errors":["[email] is blocked"]}',
  attempts: 3,
  firstFailedAt: new Date('2026-11-24T09:00:00.123Z'),
  lastFailedAt: new Date('2026-11-24T09:05:00Z'),
  replayCount: 0,
};

const destination: DestinationStatus = {
  id: 'sd-braze',
  brand: 'sd',
  type: 'braze',
  state: 'paused',
  reason: 'ESP maintenance',
  changedBy: 'ops-cli:ana',
  changedAt: new Date('2026-11-24T10:00:00Z'),
  authFailures: 0,
  deadLetters: 2,
  deployed: true,
};

describe('ops output', () => {
  it('pads table columns to their widest cell, the last one unpadded', () => {
    expect(
      renderTable(
        ['ID', 'NAME'],
        [
          ['1', 'a'],
          ['100', 'bb'],
        ],
      ),
    ).toBe('ID   NAME\n1    a\n100  bb\n');
  });

  it('keeps a cell on one line and cuts it with an ellipsis', () => {
    expect(oneLine('a\n  b\tc', 10)).toBe('a b c');
    expect(oneLine('abcdefghij', 5)).toBe('abcd…');
  });

  it('lists dead letters as a table, and says when the limit cut the list', () => {
    expect(formatDeadLetterList([letter], 50)).toBe(
      'ID  BRAND  DESTINATION  CLASS     ATTEMPTS  LAST FAILED           CUSTOMER  REPLAYED  ERROR\n' +
        '7   sd     sd-braze     rejected  3         2026-11-24T09:05:00Z  C1        -         Braze: refused [email]\n',
    );
    expect(formatDeadLetterList([letter], 1)).toContain('(the first 1; --limit up to 1000');
    expect(formatDeadLetterList([], 50)).toBe('no dead letters match\n');
  });

  it('counts letters per destination with a total', () => {
    expect(
      formatDeadLetterCounts([
        { destinationId: 'sd-braze', letters: 3 },
        { destinationId: 'sd-klaviyo', letters: 1 },
      ]),
    ).toBe('DESTINATION  LETTERS\nsd-braze     3\nsd-klaviyo   1\ntotal 4\n');
  });

  it('shows one letter field by field, never its item', () => {
    const text = formatDeadLetter({ ...letter, item: { email: 'ada@example.com' } } as DeadLetterView);
    expect(text).toContain('error:        Braze: refused [email]\n');
    expect(text).toContain('first failed: 2026-11-24T09:00:00Z\n');
    expect(text).toContain('replayed:     no (waiting)\n');
    expect(text).not.toContain('ada@example.com');
    expect(
      formatDeadLetter({ ...letter, replayedAt: new Date('2026-11-25T00:00:00Z'), replayCount: 2 }),
    ).toContain('replayed:     2026-11-25T00:00:00Z (2 times)');
  });

  it('reports a replay: replayed, already delivered, not waiting and left waiting', () => {
    expect(
      formatReplayReport({
        replayed: 1,
        alreadyDelivered: 2,
        notSent: { erased: 1, suppressed: 2 },
        notWaiting: [{ id: 4, replayedAt: new Date('2026-11-24T11:00:00Z') }],
        skipped: [{ destinationId: 'old-esp', letters: 3 }],
      }),
    ).toBe(
      'replayed 1 item; 2 already delivered (closed, nothing sent)\n' +
        'not sent: 1 of erased people (deleted), 2 to suppressed contact points (discarded)\n' +
        'letter 4 is not waiting: replayed at 2026-11-24T11:00:00Z\n' +
        'left waiting: 3 letters of old-esp, which this deployment does not run\n',
    );
  });

  it('lists destinations with state, who changed it and why', () => {
    expect(formatDestinations([destination, { ...destination, id: 'old', deployed: false }])).toBe(
      'ID                  BRAND  TYPE   STATE   SINCE                 BY           AUTH FAILURES  DEAD LETTERS  REASON\n' +
        'sd-braze            sd     braze  paused  2026-11-24T10:00:00Z  ops-cli:ana  0              2             ESP maintenance\n' +
        'old (not run here)  sd     braze  paused  2026-11-24T10:00:00Z  ops-cli:ana  0              2             ESP maintenance\n',
    );
  });

  it('says what a state change did, or that nothing changed', () => {
    expect(formatDestinationChange({ destination, changed: true }, 'pause')).toBe(
      'sd-braze paused (ESP maintenance): now paused, by ops-cli:ana; running workers apply it within 5 seconds\n',
    );
    expect(formatDestinationChange({ destination, changed: false }, 'pause')).toBe(
      'sd-braze is already paused; nothing changed\n',
    );
    const source = {
      id: 'sd-loyalty',
      brand: 'sd',
      held: true,
      reason: null,
      changedBy: 'ops-cli:ana',
      changedAt: new Date(),
    };
    expect(formatSourceHold({ source, changed: true })).toBe(
      'sd-loyalty held: its events are accepted and wait until it is released\n',
    );
    expect(formatSourceHold({ source: { ...source, held: false }, changed: false })).toBe(
      'sd-loyalty is already released; nothing changed\n',
    );
  });

  it('writes JSON with ISO times', () => {
    expect(JSON.parse(asJson({ at: new Date('2026-11-24T10:00:00Z') }))).toEqual({
      at: '2026-11-24T10:00:00.000Z',
    });
  });
});
