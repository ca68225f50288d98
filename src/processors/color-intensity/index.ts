import { type Frame, readRowRgb } from '../../inference/frame.js';
import { FORMAT_SPECS } from '../../inference/pixel-format.js';
import type { Inference } from '../../schema/inference.js';
import { defineProcessor, rejectUnknownOptions } from '../processor.js';
import { findBars, type Region } from './bars.js';

export interface ColorIntensityOptions {
  /** Mean luma below this is `dark`, else `light` (the vendor sample's 127). */
  threshold: number;
  /** Leave uniform black letterbox/pillarbox bars (the pipeline's `pad` mode) out of the mean. */
  excludeBars: boolean;
  /** A pixel whose luma is at most this counts as bar. */
  barMaxLuma: number;
}

const DEFAULTS: ColorIntensityOptions = { threshold: 127, excludeBars: true, barMaxLuma: 24 };

/**
 * Mean ITU-R BT.601 luma of the frame: `dark` below the threshold, else `light`. The mean is linear, so it is the
 * weighted sum of the channel means: the loop only adds bytes. A large JPEG may be decoded at 1/8 scale (each pixel
 * then is the mean of an 8x8 block), which leaves the mean unchanged to a fraction of a level.
 */
export default defineProcessor<ColorIntensityOptions>({
  name: 'colorIntensity',
  description: 'Classifies a frame as dark or light by its mean BT.601 luma, ignoring letterbox bars.',
  parseOptions(raw) {
    const problems = rejectUnknownOptions(raw, Object.keys(DEFAULTS));
    const options = { ...DEFAULTS, ...raw } as ColorIntensityOptions;
    if (typeof options.threshold !== 'number' || !(options.threshold >= 0 && options.threshold <= 256)) {
      problems.push('threshold must be a number from 0 to 256');
    }
    if (typeof options.excludeBars !== 'boolean') problems.push('excludeBars must be true or false');
    if (typeof options.barMaxLuma !== 'number' || !(options.barMaxLuma >= 0 && options.barMaxLuma <= 255)) {
      problems.push('barMaxLuma must be a number from 0 to 255');
    }
    if (problems.length > 0) throw new Error(problems.join('; '));
    return options;
  },
  frameRequirements: () => ({ maxReduction: 8, minReducedPixels: 16_384 }),
  create(options) {
    return {
      process(frame) {
        return [classify(frame, options)];
      },
    };
  },
});

export function classify(frame: Frame, options: ColorIntensityOptions): Inference {
  const whole: Region = { x: 0, y: 0, width: frame.width, height: frame.height };
  const region = options.excludeBars ? findBars(frame, options.barMaxLuma) : whole;
  const mean = meanLuma(frame, region);
  const sx = frame.sourceWidth / frame.width;
  const sy = frame.sourceHeight / frame.height;
  const measured = [region.x * sx, region.y * sy, region.width * sx, region.height * sy].map(Math.round).join(',');
  return {
    type: 'classification',
    subtype: 'colorIntensity',
    classification: {
      tag: { value: mean < options.threshold ? 'dark' : 'light', confidence: 1 },
      attributes: [
        { name: 'meanLuma', value: mean.toFixed(3) },
        // x,y,width,height in pixels of the image received: where the mean was taken (bars left out).
        { name: 'region', value: measured },
      ],
    },
  };
}

/** Mean BT.601 luma over a region. */
export function meanLuma(frame: Frame, region: Region): number {
  const spec = FORMAT_SPECS[frame.format];
  let sumR = 0;
  let sumG = 0;
  let sumB = 0;
  const { data } = frame;
  if (spec.kind === 'packed') {
    const { bytesPerPixel: n, r, g, b } = spec;
    for (let y = region.y; y < region.y + region.height; y++) {
      const start = frame.offset + y * frame.stride + region.x * n;
      const end = start + region.width * n;
      // Per-row integer sums stay exact; they are folded into doubles once per row.
      let rowR = 0;
      let rowG = 0;
      let rowB = 0;
      for (let i = start; i < end; i += n) {
        rowR += data[i + r]!;
        rowG += data[i + g]!;
        rowB += data[i + b]!;
      }
      sumR += rowR;
      sumG += rowG;
      sumB += rowB;
    }
  } else {
    const row = new Uint8Array(frame.width * 3);
    for (let y = region.y; y < region.y + region.height; y++) {
      readRowRgb(frame, y, row);
      for (let o = region.x * 3, end = (region.x + region.width) * 3; o < end; o += 3) {
        sumR += row[o]!;
        sumG += row[o + 1]!;
        sumB += row[o + 2]!;
      }
    }
  }
  // Integer weights keep the sum exact (a flat 127 frame is 127, not 126.99999999999999).
  return (299 * sumR + 587 * sumG + 114 * sumB) / (1000 * region.width * region.height);
}
