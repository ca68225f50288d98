import type { PipelineRunner } from './pipeline-runner.js';

/**
 * A status line per live pipeline on a TTY (stderr), redrawn every second: frames read, sent, dropped, answered,
 * errors and the answer rate over the last second. Messages go to stdout, so the two never mix.
 */
export class ProgressDisplay {
  private timer: NodeJS.Timeout | undefined;
  private lines = 0;
  private last = new Map<string, { answered: number; at: number }>();

  constructor(
    private readonly runners: PipelineRunner[],
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  start(): void {
    if (!this.out.isTTY) return;
    this.timer = setInterval(() => this.draw(), 1000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer === undefined) return;
    clearInterval(this.timer);
    this.timer = undefined;
    this.draw();
    this.out.write('\n');
  }

  render(now = Date.now()): string[] {
    return this.runners.map((runner) => {
      const c = runner.counters();
      const prev = this.last.get(runner.name);
      const rate = prev ? ((c.answered - prev.answered) * 1000) / Math.max(1, now - prev.at) : 0;
      this.last.set(runner.name, { answered: c.answered, at: now });
      return `${runner.name}: read ${c.read}  sent ${c.sent}  dropped ${c.dropped}  answered ${c.answered}  errors ${c.errors}  ${rate.toFixed(1)}/s`;
    });
  }

  private draw(): void {
    const lines = this.render();
    // Move up over the previous block and redraw it in place.
    if (this.lines > 0) this.out.write(`\x1b[${this.lines}F`);
    for (const line of lines) this.out.write(`\x1b[2K${line}\n`);
    this.lines = lines.length;
  }
}
