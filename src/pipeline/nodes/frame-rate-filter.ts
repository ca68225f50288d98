import type { MediaItem, RuntimeNode } from '../graph.js';
import { PtsSampler } from '../sampler.js';

/** LVA 1.0's `FrameRateFilterProcessor`: passes at most `maximumFps` frames a second on, by presentation time. */
export class FrameRateFilterNode implements RuntimeNode {
  private readonly sampler: PtsSampler;

  constructor(
    readonly name: string,
    maximumFps: number,
    private readonly emit: (item: MediaItem) => Promise<void>,
  ) {
    this.sampler = new PtsSampler(maximumFps);
  }

  async receive(item: MediaItem): Promise<void> {
    if (item.kind === 'frame' && !this.sampler.accept(item.frame.pts90k)) return;
    await this.emit(item);
  }

  async end(): Promise<void> {}
}
