import { DEMO_MEMBER_COUNT, demoMembers, demoSeedEvents, seededRandom, tierFor } from './demo-members';
import { catalogProblems } from './testing/catalog-problems';
import { DEMO_GROUP_SOURCE_ID, DEMO_SPORTS_SOURCE_ID } from './demo-workspace';

const NOW = new Date('2026-11-24T12:00:00.000Z');

describe('seededRandom', () => {
  it('repeats its sequence for a seed, in [0, 1)', () => {
    const first = seededRandom(42);
    const second = seededRandom(42);
    const draws = Array.from({ length: 1000 }, () => first());
    expect(Array.from({ length: 1000 }, () => second())).toEqual(draws);
    expect(draws.every((draw) => draw >= 0 && draw < 1)).toBe(true);
    expect(seededRandom(43)()).not.toBe(draws[0]);
  });
});

describe('demoMembers', () => {
  const members = demoMembers();

  it('are the same for the same seed, and others for another', () => {
    expect(demoMembers()).toEqual(members);
    expect(demoMembers(7)).not.toEqual(members);
    expect(members).toHaveLength(DEMO_MEMBER_COUNT);
  });

  it('have unique emails, ids and phones, and a tier that matches their points', () => {
    expect(new Set(members.map((member) => member.email)).size).toBe(members.length);
    const ids = members.flatMap((member) => [member.customerId, member.sportsMemberId]).filter(Boolean);
    expect(new Set(ids).size).toBe(ids.length);
    const phones = members.flatMap((member) => (member.phone === undefined ? [] : [member.phone]));
    expect(new Set(phones).size).toBe(phones.length);
    expect(phones.length).toBeGreaterThan(members.length * 0.2);
    for (const member of members) expect(member.tier).toBe(tierFor(member.points));
  });

  it('mix group members, Summit Sports members and members of both', () => {
    const group = members.filter((member) => member.brands.join() === 'northwind').length;
    const sports = members.filter((member) => member.brands.join() === 'summit-sports').length;
    const both = members.filter((member) => member.brands.length === 2).length;
    expect(group / members.length).toBeGreaterThan(0.5);
    expect(sports / members.length).toBeGreaterThan(0.15);
    expect(both / members.length).toBeGreaterThan(0.08);
    expect(members.filter((member) => member.tier === 'Platinum').length).toBeGreaterThan(0);
  });

  it('have realistic consent: most granted, some withdrawn, a few without any record', () => {
    const decisions = members.flatMap((member) => Object.values(member.consent));
    const share = (status: string) =>
      decisions.filter((decision) => decision === status).length / decisions.length;
    expect(share('granted')).toBeGreaterThan(0.7);
    expect(share('granted')).toBeLessThan(0.9);
    expect(share('withdrawn')).toBeGreaterThan(0.05);
    expect(share('withdrawn')).toBeLessThan(0.2);
    expect(share('none')).toBeGreaterThan(0.02);
    expect(share('none')).toBeLessThan(0.15);
  });
});

describe('demoSeedEvents', () => {
  const members = demoMembers();
  const events = demoSeedEvents(members, NOW);

  it('are the same for the same members and time, with stable, unique ids per source', () => {
    expect(demoSeedEvents(demoMembers(), NOW)).toEqual(events);
    const keys = events.map(({ sourceId, event }) => `${sourceId} ${event.source} ${event.id}`);
    expect(new Set(keys).size).toBe(keys.length);
    // A later run sends the very same ids, whatever its clock: the pipeline takes them for duplicates.
    expect(demoSeedEvents(members, new Date('2027-01-01T00:00:00Z')).map(({ event }) => event.id)).toEqual(
      events.map(({ event }) => event.id),
    );
  });

  it('validate against the event catalog', () => {
    expect(events.flatMap(catalogProblems)).toEqual([]);
  });

  it('introduce every member with a profile, points and tier, and consent only where there is a record', () => {
    for (const member of members) {
      const own = events.filter(({ event }) => event.id.startsWith(`seed-${member.number}-`));
      const types = own.map(({ event }) => event.type);
      expect(types.filter((type) => type === 'profile.updated')).toHaveLength(member.brands.length);
      expect(types.filter((type) => type === 'points.updated')).toHaveLength(1);
      expect(types.filter((type) => type === 'tier.changed')).toHaveLength(1);
      const recorded = Object.values(member.consent).filter((consent) => consent !== 'none').length;
      expect(types.filter((type) => type === 'consent.changed')).toHaveLength(recorded);
    }
  });

  it('come from the source of the brand they are about, and lie before now', () => {
    for (const { sourceId, event } of events) {
      const data = event.data as { brand?: string; member_id?: string };
      if (data.member_id !== undefined) expect(sourceId).toBe(DEMO_SPORTS_SOURCE_ID);
      if (event.type === 'consent.changed') {
        expect(sourceId).toBe(data.brand === 'summit-sports' ? DEMO_SPORTS_SOURCE_ID : DEMO_GROUP_SOURCE_ID);
      }
      expect(Date.parse(event.time ?? '')).toBeLessThan(NOW.getTime());
    }
  });
});
