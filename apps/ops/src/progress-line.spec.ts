import { ProgressLine } from './progress-line';

function stream(isTTY: boolean) {
  const writes: string[] = [];
  return { writes, isTTY, write: (text: string) => writes.push(text) };
}

describe('ProgressLine', () => {
  it('rewrites one line in place on a terminal, and clears it when done', () => {
    const tty = stream(true);
    const line = new ProgressLine(tty);
    line.update('1000 read');
    line.update('2000 read');
    line.done();
    expect(tty.writes).toEqual(['\r\x1b[2K1000 read', '\r\x1b[2K2000 read', '\r\x1b[2K']);
  });

  it('off a terminal, writes a plain line at most every interval, and nothing for a short run', () => {
    const pipe = stream(false);
    let now = 0;
    const line = new ProgressLine(pipe, { now: () => now, everyMs: 5_000 });
    line.update('first');
    now = 4_999;
    line.update('too soon');
    now = 5_000;
    line.update('5 s in');
    now = 7_000;
    line.update('too soon again');
    now = 10_000;
    line.update('10 s in');
    line.done();
    expect(pipe.writes).toEqual(['5 s in\n', '10 s in\n']);
  });
});
