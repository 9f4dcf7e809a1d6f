import { dsrDueState } from './dsr-due-watch.service';

describe('dsrDueState', () => {
  const now = new Date('2026-03-01T12:00:00Z');
  const hoursFromNow = (hours: number) => new Date(now.getTime() + hours * 3_600_000);

  it('is overdue once the due date has passed, or is now', () => {
    expect(dsrDueState(hoursFromNow(-30 * 24), now)).toBe('overdue');
    expect(dsrDueState(hoursFromNow(-0.001), now)).toBe('overdue');
    expect(dsrDueState(now, now)).toBe('overdue');
  });

  it('is due soon within the next 24 hours, the 24th included', () => {
    expect(dsrDueState(hoursFromNow(0.001), now)).toBe('due_soon');
    expect(dsrDueState(hoursFromNow(24), now)).toBe('due_soon');
  });

  it('says nothing further ahead', () => {
    expect(dsrDueState(hoursFromNow(24.001), now)).toBeUndefined();
    expect(dsrDueState(hoursFromNow(72), now)).toBeUndefined();
  });

  it('refuses an invalid date instead of calling it on time', () => {
    expect(() => dsrDueState(new Date('not a date'), now)).toThrow(RangeError);
  });
});
