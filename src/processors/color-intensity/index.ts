import { type Frame, readRowRgb } from '../../contract/frame.js';
import { FORMAT_SPECS } from '../../contract/pixel-format.js';
import { defineProcessor, type OptionsSchema } from '../../contract/processor.js';
import type { Inference } from '../../schema/inference.js';
import { findBars, type Region } from './bars.js';

export interface ColorIntensityOptions {
  /** Mean luma below this is `dark`, else `light` (the vendor sample's 127). */
  threshold: number;
  /** Leave uniform black letterbox/pillarbox bars (the pipeline's `pad` mode) out of the mean. */
  excludeBars: boolean;
  /** A pixel whose luma is at most this counts as bar. */
  barMaxLuma: number;
}

const OPTIONS = {
  type: 'object',
  additionalProperties: false,
  properties: {
    threshold: { type: 'number', minimum: 0, maximum: 256, default: 127 },
    excludeBars: { type: 'boolean', default: true },
    barMaxLuma: { type: 'number', minimum: 0, maximum: 255, default: 24 },
  },
} as const satisfies OptionsSchema;

/**
 * Mean ITU-R BT.601 luma of the frame: `dark` below the threshold, else `light`. The mean is linear, so it is the
 * weighted sum of the channel means: the loop only adds bytes. A large JPEG may be decoded at 1/8 scale (each pixel
 * then is the mean of an 8x8 block), which leaves the mean unchanged to a fraction of a level.
 */
export default defineProcessor<ColorIntensityOptions>({
  name: 'colorIntensity',
  cheap: true,
  description: 'Classifies a frame as dark or light by its mean BT.601 luma, ignoring letterbox bars.',
  options: OPTIONS,
  // A mean is the same on a DCT-scaled decode (each pixel the mean of a 2x2..8x8 block) to a fraction of a level,
  // and a JPEG's Y channel is BT.601 luma: no colour work at all. The floor of 32768 pixels keeps bar edges within
  // 1-2 source pixels on pipeline-sized frames (416x416 decodes at 1/2), where a block straddling a bar edge would
  // otherwise pull the mean of the picture by a few levels; 1080p decodes at 1/4.
  frameRequirements: () => ({ maxReduction: 8, minReducedPixels: 32_768, lumaOnly: true }),
  create(options) {
    return {
      process(frame) {
        return [classify(frame, options)];
      },
    };
  },
});

function classify(frame: Frame, options: ColorIntensityOptions): Inference {
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
  if (spec.kind === 'packed') {
    // Sum each byte position of the pixel with fixed offsets (one loop per pixel size, which the JIT keeps tight),
    // then weigh the positions that hold R, G and B.
    const sums = byteSums(frame, region, spec.bytesPerPixel);
    sumR = sums[spec.r]!;
    sumG = sums[spec.g]!;
    sumB = sums[spec.b]!;
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

/** Sums of each byte position of 1-, 3- or 4-byte pixels over a region; per-row sums stay small integers. */
function byteSums(frame: Frame, region: Region, n: number): number[] {
  const { data, stride } = frame;
  let t0 = 0;
  let t1 = 0;
  let t2 = 0;
  let t3 = 0;
  for (let y = region.y; y < region.y + region.height; y++) {
    const start = frame.offset + y * stride + region.x * n;
    const end = start + region.width * n;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    if (n === 1) {
      for (let i = start; i < end; i++) s0 += data[i]!;
    } else if (n === 3) {
      for (let i = start; i < end; i += 3) {
        s0 += data[i]!;
        s1 += data[i + 1]!;
        s2 += data[i + 2]!;
      }
    } else {
      for (let i = start; i < end; i += 4) {
        s0 += data[i]!;
        s1 += data[i + 1]!;
        s2 += data[i + 2]!;
        s3 += data[i + 3]!;
      }
    }
    t0 += s0;
    t1 += s1;
    t2 += s2;
    t3 += s3;
  }
  return [t0, t1, t2, t3];
}
