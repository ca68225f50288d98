import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import sharp from 'sharp';
import { frameOf } from '../src/contract/frame.js';
import { annotate, encodeJpeg } from '../src/inference/annotate.js';
import { jpegTurbo } from '../src/inference/jpeg-native.js';
import type { Inference } from '../src/schema/inference.js';
import { blendMask, fillRect, type RgbCanvas, strokeRect } from '../src/vision/draw.js';
import { glyphWidth, lineHeight, textMask } from '../src/vision/text-mask.js';

const grey = (width: number, height: number, level = 128): RgbCanvas => ({
  data: new Uint8Array(width * height * 3).fill(level),
  width,
  height,
});
const pixel = (c: RgbCanvas, x: number, y: number) => [
  ...c.data.subarray((y * c.width + x) * 3, (y * c.width + x) * 3 + 3),
];
/** Pixels (x, y) of the canvas that are not `level` grey. */
function painted(c: RgbCanvas, level = 128): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (let y = 0; y < c.height; y++)
    for (let x = 0; x < c.width; x++) if (pixel(c, x, y).some((v) => v !== level)) out.push([x, y]);
  return out;
}

describe('drawing into RGB frames', () => {
  test('fillRect paints exactly its clipped integer rectangle, opaque or blended', () => {
    const c = grey(8, 6);
    fillRect(c, 6, 4, 5, 5, [255, 0, 0]);
    assert.deepEqual(painted(c), [
      [6, 4],
      [7, 4],
      [6, 5],
      [7, 5],
    ]);
    assert.deepEqual(pixel(c, 7, 5), [255, 0, 0]);
    const d = grey(4, 4, 200);
    fillRect(d, 0, 0, 4, 4, [0, 0, 0], 0.5);
    assert.deepEqual(pixel(d, 3, 3), [100, 100, 100]);
    fillRect(d, -10, -10, 5, 5, [0, 0, 0]);
    fillRect(d, 1, 1, 0, 3, [0, 0, 0]);
    fillRect(d, Number.NaN, 0, 2, 2, [0, 0, 0]);
    assert.deepEqual(pixel(d, 0, 0), [100, 100, 100], 'off-canvas, empty and NaN rectangles draw nothing');
  });

  test('strokeRect draws a centred outline of the given thickness and leaves the inside alone', () => {
    const c = grey(20, 20);
    strokeRect(c, 5, 5, 10, 8, 2, [0, 255, 0]);
    const set = new Set(painted(c).map(([x, y]) => `${x},${y}`));
    for (let x = 4; x < 16; x++)
      for (const y of [4, 5, 12, 13]) assert.ok(set.has(`${x},${y}`), `${x},${y} on the edge`);
    for (let y = 4; y < 14; y++)
      for (const x of [4, 5, 14, 15]) assert.ok(set.has(`${x},${y}`), `${x},${y} on the edge`);
    assert.equal(set.size, 12 * 4 + 6 * 4, 'nothing but the outline');
    assert.deepEqual(pixel(c, 10, 9), [128, 128, 128]);
  });

  test('blendMask paints through coverage: none, full and half, clipped at every edge', () => {
    const c = grey(4, 3, 0);
    const mask = { width: 3, height: 2, alpha: Uint8Array.from([0, 255, 128, 255, 0, 0]) };
    blendMask(c, mask, 2, 2, [200, 100, 50]);
    assert.deepEqual(pixel(c, 2, 2), [0, 0, 0]);
    assert.deepEqual(pixel(c, 3, 2), [200, 100, 50]);
    blendMask(c, mask, -1, 0, [200, 100, 50]);
    assert.deepEqual(pixel(c, 0, 0), [200, 100, 50]);
    assert.deepEqual(pixel(c, 1, 0), [100, 50, 25]);
    assert.deepEqual(pixel(c, 0, 1), [0, 0, 0], 'the clipped column does not wrap into the row');
    assert.deepEqual(pixel(c, 2, 0), [0, 0, 0]);
  });
});

describe('text masks', () => {
  test('ASCII labels come from the glyph atlas: a cell per character, ink in every visible glyph', async () => {
    const mask = await textMask('person 0.83', 12);
    assert.deepEqual([mask.width, mask.height], [11 * glyphWidth(12), lineHeight(12)]);
    const inkOf = (i: number) => {
      let sum = 0;
      for (let y = 0; y < mask.height; y++)
        for (let x = i * glyphWidth(12); x < (i + 1) * glyphWidth(12); x++) sum += mask.alpha[y * mask.width + x]!;
      return sum;
    };
    for (const [i, ch] of [...'person 0.83'].entries()) {
      if (ch === ' ') assert.equal(inkOf(i), 0, 'a space has no ink');
      else assert.ok(inkOf(i) > 0, `glyph ${JSON.stringify(ch)} has ink`);
    }
    // The same glyph is the same pixels wherever it appears.
    const again = await textMask('p', 12);
    for (let y = 0; y < again.height; y++)
      assert.deepEqual(
        [...again.alpha.subarray(y * again.width, (y + 1) * again.width)],
        [...mask.alpha.subarray(y * mask.width, y * mask.width + again.width)],
      );
  });

  test('other text is rendered on its own, trimmed to its ink, and cached', async () => {
    const first = textMask('Ausfahrt Süd', 14);
    const mask = await first;
    assert.equal(mask.height, lineHeight(14));
    assert.ok(mask.width > 8 * glyphWidth(14) && mask.width < 14 * 14, `width ${mask.width}`);
    let lastColumn = 0;
    for (let y = 0; y < mask.height; y++)
      lastColumn = Math.max(lastColumn, mask.alpha[y * mask.width + mask.width - 1]!);
    assert.ok(lastColumn > 0, 'the last column has ink: trimmed');
    assert.equal(await textMask('Ausfahrt Süd', 14), mask, 'the second call is served from the cache');
  });
});

describe('annotate', () => {
  const inferences: Inference[] = [
    {
      type: 'entity',
      entity: { tag: { value: 'person', confidence: 0.83 }, box: { l: 0.25, t: 0.5, w: 0.25, h: 0.25 } },
    },
    { type: 'motion', motion: { box: { l: 0, t: 0, w: 0.5, h: 0.25 } } },
    { type: 'entity', inferenceId: 'r1', entity: { tag: { value: 'text' }, box: { l: 0.5, t: 0.0, w: 0.25, h: 0.1 } } },
    { type: 'text', relatedInferences: ['r1'], text: { value: 'EXIT' } },
  ];

  test('draws each box in its type colour with a label plate, at the frame size, as a JPEG', async () => {
    const frame = frameOf(new Uint8Array(800 * 400 * 3).fill(128), 800, 400, 'rgb24');
    const jpeg = await annotate(frame, inferences);
    const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
    assert.deepEqual([info.width, info.height, info.channels], [800, 400, 3]);
    /** Mean R, G, B over [x0, x1) x [y0, y1). */
    const mean = (x0: number, x1: number, y0: number, y1: number) => {
      const sum = [0, 0, 0];
      for (let y = y0; y < y1; y++)
        for (let x = x0; x < x1; x++) for (let k = 0; k < 3; k++) sum[k]! += data[(y * 800 + x) * 3 + k]!;
      return sum.map((v) => v / ((x1 - x0) * (y1 - y0)));
    };
    const near = (got: number[], want: number[], slack = 24) =>
      assert.ok(
        got.every((v, i) => Math.abs(v - want[i]!) <= slack),
        `${got.map((v) => v.toFixed(0))} is not ${want}`,
      );
    // Strokes are 2 px at this size (min(800, 400) / 200), labels 10 px on 14 px plates.
    // A 2 px line's chroma is halved by 4:2:0: its hue is what is checked.
    const [er, eg, eb] = mean(199, 201, 220, 280);
    assert.ok(eg! > 190 && eg! > er! + 100 && eg! > eb! + 100, `the person's left edge is green: ${er},${eg},${eb}`);
    const [mr, mg, mb] = mean(0, 1, 20, 80);
    assert.ok(mr! > 150 && mb! > 150 && mg! < mr! - 100, `the motion box's left edge is magenta: ${mr},${mg},${mb}`);
    near(mean(230, 370, 220, 280), [128, 128, 128], 4); // inside the person's box, untouched
    // Plates: 60% black over grey 128 is 51; the label's ink (in the box's colour) lifts only its own channels.
    const personPlate = mean(202, 268, 187, 197);
    near([personPlate[0]!, personPlate[2]!], [51, 51], 12);
    assert.ok(personPlate[1]! > personPlate[0]! + 10, 'green ink on the person plate');
    const motionPlate = mean(2, 38, 102, 112); // below its box: the box touches the top edge
    assert.ok(motionPlate[0]! > motionPlate[1]! + 10 && motionPlate[2]! > motionPlate[1]! + 10, 'magenta ink');
    near([motionPlate[1]!], [51], 12);
    // The OCR region is labelled with its text, and the plate is as wide as the text.
    const ocrPlate = mean(402, 426, 42, 52);
    near([ocrPlate[0]!, ocrPlate[2]!], [51, 51], 12);
    near(mean(436, 480, 42, 52), [128, 128, 128], 6);
    assert.ok(
      frame.data.every((v) => v === 128),
      'the request frame itself is not drawn on',
    );
  });

  test('libjpeg-turbo and sharp encode the same picture', async (t) => {
    if (jpegTurbo() === undefined) {
      t.diagnostic('the libjpeg-turbo binding is not built here: sharp only');
    }
    const canvas = grey(64, 48);
    fillRect(canvas, 8, 8, 32, 16, [255, 0, 0]);
    const decoded = await Promise.all(
      [jpegTurbo(), undefined].map(async (binding) =>
        sharp(await encodeJpeg(canvas, 90, binding))
          .raw()
          .toBuffer(),
      ),
    );
    for (const out of decoded) {
      assert.equal(out.length, 64 * 48 * 3);
      let error = 0;
      for (let i = 0; i < out.length; i++) error += Math.abs(out[i]! - canvas.data[i]!);
      assert.ok(error / out.length < 3, `mean absolute error ${error / out.length}`);
    }
  });

  test('the binding refuses geometry its buffer does not hold, and bad qualities', () => {
    const turbo = jpegTurbo();
    assert.ok(turbo, 'native/jpeg-turbo/build/Release/jpeg_turbo.node did not load');
    const rgb = new Uint8Array(4 * 4 * 3);
    assert.throws(() => turbo.encode(rgb, 4, 5, 12, 90), { message: 'rgb is shorter than its geometry' });
    assert.throws(() => turbo.encode(rgb, 4, 4, 11, 90), { message: 'stride is shorter than a row' });
    assert.throws(() => turbo.encode(rgb, 4, 4, 12, 0), { message: 'quality must be 1-100' });
    assert.throws(() => turbo.encode(rgb, 0, 4, 12, 90), { message: 'width and height must be 1-65500' });
    assert.equal(turbo.encode(rgb, 4, 4, 12, 90).subarray(0, 2).toString('hex'), 'ffd8');
  });
});
