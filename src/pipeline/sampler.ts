/**
 * Caps a frame rate by presentation time, not wall clock, so a file played as fast as possible yields the same
 * samples as the same file played live: a frame passes when its PTS has reached the next slot; slots are 1/rate
 * apart. Slots advance on a grid from the first frame (no drift on 10 fps -> 2 fps: exactly every 5th frame), and
 * restart from the current frame after a gap or a PTS jump (a reconnect, a wrapped clock).
 */
export class PtsSampler {
  private next: number | undefined;
  private readonly interval: number;
  /** Timestamps jitter by a tick or two (rounding of 90 kHz conversions): 1 ms of slack. */
  private static readonly SLACK = 90;

  constructor(maximumPerSecond: number) {
    this.interval = 90_000 / maximumPerSecond;
  }

  accept(pts90k: number): boolean {
    if (this.next === undefined || pts90k < this.next - 10 * this.interval) {
      this.next = pts90k + this.interval;
      return true;
    }
    if (pts90k + PtsSampler.SLACK < this.next) return false;
    this.next += this.interval;
    if (this.next <= pts90k) this.next = pts90k + this.interval;
    return true;
  }
}
