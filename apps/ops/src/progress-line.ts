/** Where a progress line goes: stderr, with whether it is a terminal. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
}

export interface ProgressLineOptions {
  now?: () => number;
  /** Off a terminal, the least time between two lines (default 5 s): a log, not a flood. */
  everyMs?: number;
}

/**
 * A live progress line for long runs: on a terminal one line rewritten in place; elsewhere (a pipe, a CI
 * log) a plain line every few seconds. It never touches stdout, which carries the command's result.
 */
export class ProgressLine {
  private readonly now: () => number;
  private readonly everyMs: number;
  private lastWrite: number | undefined;
  private drawn = false;

  constructor(
    private readonly stream: ProgressStream,
    options: ProgressLineOptions = {},
  ) {
    this.now = options.now ?? (() => Date.now());
    this.everyMs = options.everyMs ?? 5_000;
  }

  update(text: string): void {
    if (this.stream.isTTY === true) {
      this.stream.write(`\r\x1b[2K${text}`);
      this.drawn = true;
      return;
    }
    const now = this.now();
    // The first update waits a full interval too: a short run prints nothing but its result.
    this.lastWrite ??= now;
    if (now - this.lastWrite < this.everyMs) return;
    this.stream.write(`${text}\n`);
    this.lastWrite = now;
  }

  /** Clears the terminal line, so the result that follows starts on a clean line. */
  done(): void {
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }
}
