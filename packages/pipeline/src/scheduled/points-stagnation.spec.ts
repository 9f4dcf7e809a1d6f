import { DEFAULT_STAGNANT_DAYS, stagnationThresholds } from './points-stagnation.service';

const winback = (config: Record<string, unknown>) => ({ name: 'points-winback', config });

describe('stagnationThresholds', () => {
  it('takes, per brand, the smallest stagnantDays its destinations configure', () => {
    expect(
      stagnationThresholds([
        { brand: 'sd', plugins: [winback({ stagnantDays: 90 })] },
        { brand: 'sd', plugins: [{ name: 'profile-sync', config: {} }, winback({ stagnantDays: 60 })] },
        { brand: 'fl', plugins: [winback({ stagnantDays: 120 })] },
      ]),
    ).toEqual(
      new Map([
        ['sd', 60],
        ['fl', 120],
      ]),
    );
  });

  it('leaves out brands whose destinations do not configure the plugin', () => {
    expect(
      stagnationThresholds([
        { brand: 'sd', plugins: [{ name: 'profile-sync', config: { stagnantDays: 5 } }] },
        { brand: 'fl', plugins: [] },
      ]),
    ).toEqual(new Map());
  });

  it('uses the plugin’s default for a config without a usable value', () => {
    for (const stagnantDays of [undefined, 0, -3, 1.5, '30', null]) {
      expect(stagnationThresholds([{ brand: 'sd', plugins: [winback({ stagnantDays })] }])).toEqual(
        new Map([['sd', DEFAULT_STAGNANT_DAYS]]),
      );
    }
  });
});
