import { windowPolicyOf } from './windowed-delivery.service';

describe('windowPolicyOf', () => {
  const operations = { upsertProfiles: { batchSize: 75 }, addToSegment: { batchSize: 50 } };

  it('flushes each operation at its batch size, after the default 2 s window, taking four of the largest batches', () => {
    expect(windowPolicyOf({}, operations)).toEqual({
      windowMs: 2_000,
      thresholds: { upsertProfiles: 75, addToSegment: 50 },
      maxTake: 300,
    });
  });

  it("takes the destination's own window, 0 included", () => {
    expect(windowPolicyOf({ windowMs: 0 }, operations).windowMs).toBe(0);
    expect(windowPolicyOf({ windowMs: 15_000 }, operations).windowMs).toBe(15_000);
  });
});
