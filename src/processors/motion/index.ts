import { defineProcessor, type OptionsSchema } from '../../contract/processor.js';
import type { Inference } from '../../schema/inference.js';
import { changedRegions, regionBox, type Thumbnail, thumbnail } from '../../vision/frame-difference.js';

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

const OPTIONS = {
  type: 'object',
  additionalProperties: false,
  properties: {
    threshold: { type: 'number', minimum: 0, maximum: 255, default: 20 },
    minAreaFraction: { type: 'number', minimum: 0, maximum: 1, default: 0.0005 },
    thumbnailWidth: { type: 'integer', minimum: 1, default: 160 },
    maxRegions: { type: 'integer', minimum: 1, default: 20 },
    maxStreams: { type: 'integer', minimum: 1, default: 256 },
  },
} as const satisfies OptionsSchema;

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
  options: OPTIONS,
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
          const box = regionBox(r, current);
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
