import type { Inference } from '../../schema/inference.js';
import { rectangle } from '../../vision/box.js';
import { defineProcessor, rejectUnknownOptions } from '../processor.js';
import { changedRegions, type Thumbnail, thumbnail } from './frame-difference.js';

export interface MotionOptions {
  /** Luma change (0..255) above which a pixel of the thumbnail counts as changed. */
  threshold: number;
  /** Smallest region reported, as a fraction of the frame's area (changed pixels). */
  minAreaFraction: number;
  /** Width of the grayscale thumbnail the frames are compared at. */
  thumbnailWidth: number;
  maxRegions: number;
  /** Streams remembered per worker; the least recently seen is forgotten beyond this. */
  maxStreams: number;
}

const DEFAULTS: MotionOptions = {
  threshold: 20,
  minAreaFraction: 0.0005,
  thumbnailWidth: 160,
  maxRegions: 20,
  maxStreams: 256,
};

/**
 * Motion by frame differencing, per stream: each frame is compared with the previous frame of the same stream
 * (`?stream=` or `x-stream-id`), which is why the processor is `stateful` and the scheduler pins a stream to one executor.
 * The first frame of a stream, and a frame whose size changed, only set the reference (204).
 */
export default defineProcessor<MotionOptions>({
  name: 'motion',
  description: 'Detects moving regions by differencing consecutive frames of a stream.',
  stateful: true,
  cheap: true,
  parseOptions(raw) {
    const problems = rejectUnknownOptions(raw, Object.keys(DEFAULTS));
    const o = { ...DEFAULTS, ...raw } as MotionOptions;
    if (typeof o.threshold !== 'number' || !(o.threshold >= 0 && o.threshold <= 255)) {
      problems.push('threshold must be a number from 0 to 255');
    }
    if (typeof o.minAreaFraction !== 'number' || !(o.minAreaFraction >= 0 && o.minAreaFraction <= 1)) {
      problems.push('minAreaFraction must be a number from 0 to 1');
    }
    for (const key of ['thumbnailWidth', 'maxRegions', 'maxStreams'] as const) {
      if (!Number.isInteger(o[key]) || o[key] < 1) problems.push(`${key} must be an integer >= 1`);
    }
    if (problems.length > 0) throw new Error(problems.join('; '));
    return o;
  },
  // Differencing a 160-pixel thumbnail needs no more than a 1/8 JPEG decode of a large frame.
  frameRequirements: (o) => ({ maxReduction: 8, minReducedPixels: o.thumbnailWidth * o.thumbnailWidth }),
  create(options) {
    // Map iteration order is insertion order: re-inserting on each frame keeps the least recent stream first.
    const previous = new Map<string, Thumbnail & { source: string }>();
    return {
      process(frame, request) {
        const current = {
          ...thumbnail(frame, options.thumbnailWidth),
          source: `${frame.sourceWidth}x${frame.sourceHeight}`,
        };
        const stream = request.stream ?? '';
        const before = previous.get(stream);
        previous.delete(stream);
        previous.set(stream, current);
        if (previous.size > options.maxStreams) previous.delete(previous.keys().next().value!);
        if (before === undefined || before.source !== current.source || before.width !== current.width) return [];
        const minPixels = Math.max(1, options.minAreaFraction * current.width * current.height);
        const regions = changedRegions(before, current, options.threshold, minPixels).slice(0, options.maxRegions);
        const inferences: Inference[] = [];
        for (const r of regions) {
          const box = rectangle(
            r.x1 / current.width,
            r.y1 / current.height,
            (r.x2 + 1) / current.width,
            (r.y2 + 1) / current.height,
          );
          if (box !== undefined) inferences.push({ type: 'motion', subtype: 'motion', motion: { box } });
        }
        return inferences;
      },
      dispose() {
        previous.clear();
      },
    };
  },
});
