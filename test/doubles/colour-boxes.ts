import { FORMAT_SPECS } from '../../src/contract/pixel-format.js';
import { defineProcessor } from '../../src/contract/processor.js';
import type { Inference } from '../../src/schema/inference.js';

/**
 * Test double detector for generated scenes (test/helpers/tracking-scene.ts): finds the pixels of each saturated
 * colour (red, green, blue) and reports each colour's bounding box as one "car", so a tracker cannot use colour to
 * tell objects apart. Its confidence is the share of `?fullPixels=` (the pixel area of a whole box in the image
 * it receives) that is visible, times 0.95: a half-hidden box scores below 0.5, as an occluded object scores low
 * with a real detector. Colours covering fewer than `?minPixels=` (default 20) pixels are not reported.
 */
const COLOURS = ['red', 'green', 'blue'] as const;

export default defineProcessor<Record<string, never>>({
  name: 'colourBoxes',
  description: 'finds red, green and blue boxes (tests only)',
  create: () => ({
    process(frame, request) {
      const spec = FORMAT_SPECS[frame.format];
      if (spec.kind !== 'packed' || spec.bytesPerPixel < 3)
        throw new Error(`colourBoxes reads RGB, not ${frame.format}`);
      const fullPixels = Number(request.query.fullPixels ?? 1600);
      const minPixels = Number(request.query.minPixels ?? 20);
      const found = COLOURS.map(() => ({ count: 0, l: Infinity, t: Infinity, r: -1, b: -1 }));
      for (let y = 0; y < frame.height; y++) {
        const row = frame.offset + y * frame.stride;
        for (let x = 0; x < frame.width; x++) {
          const p = row + x * spec.bytesPerPixel;
          const rgb = [frame.data[p + spec.r]!, frame.data[p + spec.g]!, frame.data[p + spec.b]!];
          const k = rgb.findIndex((v, i) => v > 150 && rgb.every((o, j) => j === i || o < 100));
          if (k < 0) continue;
          const f = found[k]!;
          f.count++;
          f.l = Math.min(f.l, x);
          f.t = Math.min(f.t, y);
          f.r = Math.max(f.r, x + 1);
          f.b = Math.max(f.b, y + 1);
        }
      }
      const out: Inference[] = [];
      for (const f of found) {
        if (f.count < minPixels) continue;
        out.push({
          type: 'entity',
          subtype: 'objectDetection',
          entity: {
            tag: { value: 'car', confidence: Math.round(0.95 * Math.min(1, f.count / fullPixels) * 1000) / 1000 },
            box: {
              l: f.l / frame.width,
              t: f.t / frame.height,
              w: (f.r - f.l) / frame.width,
              h: (f.b - f.t) / frame.height,
            },
          },
        });
      }
      return out;
    },
  }),
});
