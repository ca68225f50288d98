import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { writeCenterNetOnnx } from '../scripts/convert-centernet.js';
import { type CenterNet, defaultModelPath, loadCenterNet } from '../src/processors/object-detection/centernet.js';
import { decodeCenterNet, type HeatMaps } from '../src/processors/object-detection/centernet-decoder.js';
import { halfToFloat } from '../src/processors/object-detection/tfjs-graph.js';
import type { Detection } from '../src/vision/nms.js';
import { loadTfjsCenterNet, type TfjsCenterNet } from './helpers/centernet-tfjs.js';
import { fixture } from './helpers/http.js';

/** The street frame letterboxed into 512x512 with black bars, as the processor feeds the network. */
async function streetInput(): Promise<Uint8Array> {
  const rgb = await sharp(fixture('frames/street100_768x576.jpg'))
    .resize(512, 512, { fit: 'contain', background: '#000000' })
    .removeAlpha()
    .raw()
    .toBuffer();
  return new Uint8Array(rgb);
}

function maxDifference(nhwc: Float32Array, maps: HeatMaps, nchw: Float32Array, channels: number): number {
  const plane = maps.gridWidth * maps.gridHeight;
  assert.equal(nhwc.length, plane * channels);
  assert.equal(nchw.length, plane * channels);
  let max = 0;
  for (let cell = 0; cell < plane; cell++) {
    for (let c = 0; c < channels; c++) {
      max = Math.max(max, Math.abs(nhwc[cell * channels + c]! - nchw[c * plane + cell]!));
    }
  }
  return max;
}

function assertSameDetections(actual: Detection[], expected: Detection[], boxPx: number, score: number): void {
  assert.equal(actual.length, expected.length, 'detection count');
  const left = [...actual];
  for (const e of expected) {
    const i = left.findIndex(
      (a) =>
        a.classIndex === e.classIndex &&
        Math.abs(a.score - e.score) <= score &&
        (['x1', 'y1', 'x2', 'y2'] as const).every((k) => Math.abs(a.box[k] - e.box[k]) <= boxPx),
    );
    assert.ok(i >= 0, `no match for ${JSON.stringify(e)} in ${JSON.stringify(left)}`);
    left.splice(i, 1);
  }
}

describe('CenterNet converted from the TF.js graph to ONNX', () => {
  let onnx: CenterNet;
  let tfjs: TfjsCenterNet;
  let input: Uint8Array;
  before(async () => {
    onnx = await loadCenterNet(defaultModelPath(), { threads: 1 });
    tfjs = await loadTfjsCenterNet();
    input = await streetInput();
  });
  after(async () => {
    await onnx.dispose();
    tfjs.dispose();
  });

  it("computes the TF.js graph's heat maps and box distances on a frame", async () => {
    const expected = await tfjs.raw(input);
    const actual = await onnx.run(input);
    assert.deepEqual([actual.classes, actual.gridHeight, actual.gridWidth, actual.stride], [80, 128, 128, 4]);
    assert.ok(maxDifference(expected.keypoints, actual, actual.heatmap, 80) < 1e-4, 'heat-map scores');
    // Distances are in input pixels (up to a few hundred): float rounding of the two runtimes, well under a pixel.
    assert.ok(maxDifference(expected.wh, actual, actual.wh, 4) < 0.05, 'box distances');
  });

  it("decodes the peaks the graph's own decoding (tower_0/detections) finds", async () => {
    const expected = await tfjs.detect(input, 0.1);
    assert.ok(expected.length >= 12, `a busy frame: ${expected.length}`);
    assertSameDetections(decodeCenterNet(await onnx.run(input), 0.1, 100), expected, 0.05, 1e-4);
  });

  it('scripts/convert-centernet.ts writes the same model as a file, which modelPath loads', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hx-centernet-'));
    try {
      const file = join(dir, 'centernet.onnx');
      assert.ok((await writeCenterNetOnnx(file)) > 1_000_000);
      const fromFile = await loadCenterNet(file, { threads: 1 });
      const [a, b] = [await fromFile.run(input), await onnx.run(input)];
      assert.deepEqual(a.heatmap, b.heatmap);
      assert.deepEqual(a.wh, b.wh);
      await fromFile.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('CenterNet decoder', () => {
  /** Two classes on a 4x3 grid, stride 4; every box distance is 2 px. */
  function maps(cells: Array<[number, number, number, number]>): HeatMaps {
    const w = 4;
    const h = 3;
    const heatmap = new Float32Array(2 * w * h);
    for (const [c, x, y, score] of cells) heatmap[c * w * h + y * w + x] = score;
    return { heatmap, wh: new Float32Array(4 * w * h).fill(2), classes: 2, gridWidth: w, gridHeight: h, stride: 4 };
  }

  it('keeps 3x3 maxima per class (ties included, grid edges count no padding) and builds boxes from the cell', () => {
    const found = decodeCenterNet(
      maps([
        [0, 0, 0, 0.9], // a corner peak
        [0, 1, 0, 0.5], // its neighbour: suppressed
        [0, 3, 2, 0.6], // a tie of two neighbours: both are maxima of their neighbourhood
        [0, 2, 2, 0.6],
        [1, 1, 0, 0.7], // another class at the suppressed cell's place: kept
      ]),
      0.3,
      10,
    );
    assert.deepEqual(
      found.map((d) => [d.classIndex, d.score.toFixed(2), d.box.x1, d.box.y1, d.box.x2, d.box.y2]),
      [
        [0, '0.90', -2, -2, 2, 2],
        [1, '0.70', 2, -2, 6, 2],
        [0, '0.60', 6, 6, 10, 10],
        [0, '0.60', 10, 6, 14, 10],
      ],
    );
  });

  it('drops peaks under the threshold and keeps the best maxPeaks', () => {
    const m = maps([
      [0, 0, 0, 0.9],
      [0, 3, 2, 0.29],
      [1, 2, 0, 0.8],
      [1, 0, 2, 0.4],
    ]);
    assert.deepEqual(
      decodeCenterNet(m, 0.3, 10).map((d) => d.score.toFixed(2)),
      ['0.90', '0.80', '0.40'],
    );
    assert.deepEqual(
      decodeCenterNet(m, 0.3, 2).map((d) => d.score.toFixed(2)),
      ['0.90', '0.80'],
    );
  });

  it('reads float16 weights as TF.js does', () => {
    assert.deepEqual([0x3c00, 0xc000, 0x0001, 0x7bff, 0x0000, 0x3555].map(halfToFloat), [
      1,
      -2,
      2 ** -24,
      65504,
      0,
      0.333251953125,
    ]);
  });
});
