import { DemoEventStream } from './demo-event-stream';
import { demoMembers, type DemoEvent, tierFor } from './demo-members';
import { catalogProblems } from './testing/catalog-problems';

const NOW = new Date('2026-11-24T12:00:00.000Z');

function take(stream: DemoEventStream, count: number): DemoEvent[] {
  const events: DemoEvent[] = [];
  for (let tick = 0; events.length < count; tick++)
    events.push(...stream.next(new Date(NOW.getTime() + tick * 20)));
  return events;
}

describe('DemoEventStream', () => {
  const members = demoMembers();
  const events = take(new DemoEventStream(members, { seed: 1, runId: 'run1' }), 3000);

  it('is the same for the same seed and members', () => {
    expect(take(new DemoEventStream(members, { seed: 1, runId: 'run1' }), 3000)).toEqual(events);
    expect(take(new DemoEventStream(members, { seed: 2, runId: 'run1' }), 100)).not.toEqual(
      events.slice(0, 100),
    );
  });

  it('gives every event an id of its own, prefixed by the run', () => {
    const ids = events.map(({ event }) => event.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.every((id) => id.startsWith('run1-'))).toBe(true);
  });

  it('validates against the event catalog', () => {
    expect(events.flatMap(catalogProblems)).toEqual([]);
  });

  it('sends the whole range of activity', () => {
    const types = new Set(events.map(({ event }) => event.type));
    expect([...types].sort()).toEqual([
      'consent.changed',
      'points.updated',
      'profile.updated',
      'showroom.tried_variant',
      'showroom.viewed_3d_model',
      'tier.changed',
      'transaction.created',
    ]);
    const deltas = events.flatMap(({ event }) =>
      event.type === 'points.updated' ? [(event.data as { delta: number }).delta] : [],
    );
    expect(deltas.some((delta) => delta < 0)).toBe(true);
    expect(events.some(({ event }) => 'anonymous_id' in event.data)).toBe(true);
  });

  it('keeps balances at zero or above, and changes a tier exactly when a balance crosses a threshold', () => {
    for (const [index, { event }] of events.entries()) {
      if (event.type !== 'tier.changed') continue;
      const points = events[index - 1]?.event;
      expect(points?.type).toBe('points.updated');
      const balance = (points?.data as { new_balance: number }).new_balance;
      expect((event.data as { tier: string }).tier).toBe(tierFor(balance));
      expect((event.data as { previous_tier: string }).previous_tier).not.toBe(tierFor(balance));
    }
    expect(
      events.every(
        ({ event }) =>
          event.type !== 'points.updated' || (event.data as { new_balance: number }).new_balance >= 0,
      ),
    ).toBe(true);
  });
});
