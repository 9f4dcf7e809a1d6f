import { BoundedMemo } from './bounded-memo';

describe('BoundedMemo', () => {
  it('computes a key once and forgets the oldest key past its bound', () => {
    const memo = new BoundedMemo<number>(2);
    let computed = 0;
    const square = (n: number) => () => {
      computed += 1;
      return n * n;
    };
    expect(memo.get('3', square(3))).toBe(9);
    expect(memo.get('3', square(3))).toBe(9);
    expect(computed).toBe(1);
    memo.get('4', square(4));
    memo.get('5', square(5));
    expect(computed).toBe(3);
    // '3' was the oldest and went when '5' arrived; '5' is still known.
    memo.get('3', square(3));
    memo.get('5', square(5));
    expect(computed).toBe(4);
  });
});
