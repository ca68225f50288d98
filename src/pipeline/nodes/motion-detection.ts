import { rectangle } from '../../vision/box.js';
import { changedRegions, regionBox, type Thumbnail, thumbnailRgb } from '../../vision/frame-difference.js';
import type { MediaItem, RuntimeNode } from '../graph.js';
import type { MotionSpec, Sensitivity } from '../node-specs.js';

/** Luma change that counts, and the smallest region reported (fraction of the frame), per vendor sensitivity. */
const SENSITIVITY: Record<Sensitivity, { threshold: number; minAreaFraction: number }> = {
  low: { threshold: 30, minAreaFraction: 0.004 },
  medium: { threshold: 20, minAreaFraction: 0.001 },
  high: { threshold: 12, minAreaFraction: 0.0003 },
};

const THUMBNAIL_WIDTH = 160;
const MAX_REGIONS = 20;

interface Box {
  l: number;
  t: number;
  w: number;
  h: number;
}

function overlaps(a: Box, b: Box): boolean {
  return a.l <= b.l + b.w && b.l <= a.l + a.w && a.t <= b.t + b.h && b.t <= a.t + a.h;
}

/** Unions boxes that overlap, until none do: the regions where something moved during an aggregation window. */
export function mergeBoxes(boxes: readonly Box[]): Box[] {
  const out = boxes.map((b) => ({ ...b }));
  for (let merged = true; merged; ) {
    merged = false;
    for (let i = 0; i < out.length && !merged; i++) {
      for (let j = i + 1; j < out.length; j++) {
        const a = out[i]!;
        const b = out[j]!;
        if (!overlaps(a, b)) continue;
        const r = rectangle(
          Math.min(a.l, b.l),
          Math.min(a.t, b.t),
          Math.max(a.l + a.w, b.l + b.w),
          Math.max(a.t + a.h, b.t + b.h),
        );
        if (r === undefined) continue;
        out[i] = r;
        out.splice(j, 1);
        merged = true;
        break;
      }
    }
  }
  return out;
}

/**
 * `MotionDetectionProcessor`: differences each decoded frame with the one before (on a grayscale thumbnail), passes
 * the frames with motion on (annotated with their motion inferences) and drops the others, as the vendor's node did.
 * Events are aggregated over `eventAggregationWindow` of media time: one event per window, at the timestamp of its
 * first frame with motion, carrying the window's regions merged where they overlap.
 */
export class MotionDetectionNode implements RuntimeNode {
  private previous: Thumbnail | undefined;
  private pending: { pts90k: number; boxes: Box[] } | undefined;
  private readonly threshold: number;
  private readonly minAreaFraction: number;

  constructor(
    readonly name: string,
    private readonly spec: MotionSpec,
    private readonly emit: (item: MediaItem) => Promise<void>,
  ) {
    ({ threshold: this.threshold, minAreaFraction: this.minAreaFraction } = SENSITIVITY[spec.sensitivity]);
  }

  async receive(item: MediaItem): Promise<void> {
    if (item.kind !== 'frame') return;
    const { frame } = item;
    const current = thumbnailRgb(frame.rgb, frame.width, frame.height, THUMBNAIL_WIDTH);
    const before = this.previous;
    this.previous = current;
    const window90k = (this.spec.eventAggregationWindowMs * 90_000) / 1000;
    if (this.pending !== undefined && frame.pts90k >= this.pending.pts90k + window90k) await this.flush();
    if (before === undefined || before.width !== current.width || before.height !== current.height) return;
    const minPixels = Math.max(1, this.minAreaFraction * current.width * current.height);
    const regions = changedRegions(before, current, this.threshold, minPixels).slice(0, MAX_REGIONS);
    if (regions.length === 0) return;
    const boxes: Box[] = [];
    for (const r of regions) {
      const box = regionBox(r, current);
      if (box !== undefined) boxes.push(box);
    }
    await this.emit({ kind: 'frame', frame, annotations: [...item.annotations, ...this.inferences(boxes)] });
    if (this.pending === undefined) this.pending = { pts90k: frame.pts90k, boxes };
    else this.pending.boxes.push(...boxes);
    if (window90k === 0) await this.flush();
  }

  async end(): Promise<void> {
    await this.flush();
  }

  private inferences(boxes: readonly Box[]): unknown[] {
    // Without regions the vendor still reported that motion happened: one inference with an empty payload.
    if (!this.spec.outputMotionRegion) return [{ type: 'motion', motion: {} }];
    return boxes.map((box) => ({ type: 'motion', motion: { box } }));
  }

  private async flush(): Promise<void> {
    const pending = this.pending;
    this.pending = undefined;
    if (pending === undefined) return;
    const boxes = mergeBoxes(pending.boxes).slice(0, MAX_REGIONS);
    await this.emit({
      kind: 'event',
      event: { node: this.name, pts90k: pending.pts90k, body: { inferences: this.inferences(boxes) } },
    });
  }
}
