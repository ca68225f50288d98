import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeClassification } from '../src/processors/onnx/decoders/classification.js';
import type { OutputTensor } from '../src/processors/onnx/decoders/decoder.js';
import { SSD_DEFAULT_OUTPUTS, ssdDecoder } from '../src/processors/onnx/decoders/ssd.js';
import { decodeYoloV5 } from '../src/processors/onnx/decoders/yolov5.js';
import { decodeYoloV8 } from '../src/processors/onnx/decoders/yolov8.js';
import { decodeYoloX } from '../src/processors/onnx/decoders/yolox.js';
import { inputDims, toInputData } from '../src/processors/onnx/input-tensor.js';
import type { ModelConfig } from '../src/processors/onnx/model-config.js';
import { toSourceBox } from '../src/vision/box.js';
import { placementOf } from '../src/vision/letterbox.js';
import { iou, nonMaxSuppression } from '../src/vision/nms.js';

const context = { inputWidth: 64, inputHeight: 64, classCount: 2, minConfidence: 0.25 };

function outputs(entries: Record<string, { data: number[]; dims: number[] }>): Map<string, OutputTensor> {
  return new Map(Object.entries(entries).map(([k, v]) => [k, { data: Float32Array.from(v.data), dims: v.dims }]));
}

describe('ONNX output decoders', () => {
  it('yolov5: centre boxes, objectness x class score, rows under the threshold dropped', () => {
    const found = decodeYoloV5(
      outputs({ o: { data: [10, 20, 4, 8, 0.5, 0.2, 1, 30, 30, 2, 2, 0.2, 1, 1], dims: [1, 2, 7] } }),
      context,
    );
    assert.deepEqual(found, [{ box: { x1: 8, y1: 16, x2: 12, y2: 24 }, score: 0.5, classIndex: 1 }]);
  });

  it('yolov8: attributes first, anchors last', () => {
    // Two anchors: (cx, cy, w, h, c0, c1) columns.
    const data = [10, 40, 20, 40, 4, 2, 8, 2, 0.1, 0.7, 0.6, 0.2];
    const found = decodeYoloV8(outputs({ o: { data, dims: [1, 6, 2] } }), context);
    assert.equal(found.length, 2);
    assert.equal(found[0]!.classIndex, 1);
    assert.ok(Math.abs(found[0]!.score - 0.6) < 1e-6);
    assert.deepEqual(found[0]!.box, { x1: 8, y1: 16, x2: 12, y2: 24 });
    assert.equal(found[1]!.classIndex, 0);
    assert.deepEqual(found[1]!.box, { x1: 39, y1: 39, x2: 41, y2: 41 });
  });

  it('yolox: grid offsets and log sizes per stride', () => {
    // 64x64 input: 8x8 + 4x4 + 2x2 = 84 rows. Put one box in the stride-16 grid at cell (1, 2).
    const rows = new Array<number>(84 * 7).fill(0);
    const r = 64 + 2 * 4 + 1;
    rows.splice(r * 7, 7, 0.5, 0.25, Math.log(2), 0, 0.8, 0.1, 1);
    const found = decodeYoloX(outputs({ o: { data: rows, dims: [1, 84, 7] } }), context);
    assert.equal(found.length, 1);
    const box = found[0]!.box;
    // cx = (0.5 + 1) * 16 = 24, cy = (0.25 + 2) * 16 = 36, w = 2 * 16 = 32, h = 16.
    assert.deepEqual(
      [box.x1, box.y1, box.x2, box.y2].map((v) => Math.round(v * 1000) / 1000),
      [8, 28, 40, 44],
    );
    assert.equal(found[0]!.classIndex, 1);
  });

  it('yolox: refuses an output whose row count does not match the input size', () => {
    assert.throws(
      () => decodeYoloX(outputs({ o: { data: new Array(10 * 7).fill(0), dims: [1, 10, 7] } }), context),
      /yolox decoder expects an output \[1, 84, 5 \+ classes\]/,
    );
  });

  it('yolov5/yolov8: refuse outputs of the wrong rank', () => {
    assert.throws(() => decodeYoloV5(outputs({ o: { data: [1, 2, 3], dims: [3] } }), context), /yolov5 decoder/);
    assert.throws(() => decodeYoloV8(outputs({ o: { data: [1, 2, 3], dims: [1, 3] } }), context), /yolov8 decoder/);
  });

  it('ssd: (ymin, xmin, ymax, xmax) normalised, limited to the valid count', () => {
    const decode = ssdDecoder(SSD_DEFAULT_OUTPUTS);
    const found = decode(
      outputs({
        detection_boxes: { data: [0.25, 0.5, 0.75, 1, 0, 0, 1, 1], dims: [1, 2, 4] },
        detection_classes: { data: [3, 1], dims: [1, 2] },
        detection_scores: { data: [0.9, 0.9], dims: [1, 2] },
        num_detections: { data: [1], dims: [1] },
      }),
      context,
    );
    assert.deepEqual(found, [{ box: { x1: 32, y1: 16, x2: 64, y2: 48 }, score: Math.fround(0.9), classIndex: 3 }]);
  });

  it('ssd: names a missing output', () => {
    assert.throws(() => ssdDecoder(SSD_DEFAULT_OUTPUTS)(outputs({}), context), /detection_boxes not found/);
  });

  it('classification: softmax of logits, top K', () => {
    const top = decodeClassification(
      { data: Float32Array.from([0, Math.log(3), 0]), dims: [1, 3] },
      { softmax: true, topK: 2, minConfidence: 0 },
    );
    assert.deepEqual(
      top.map((c) => c.classIndex),
      [1, 0],
    );
    assert.ok(Math.abs(top[0]!.score - 0.6) < 1e-6);
    assert.ok(Math.abs(top[1]!.score - 0.2) < 1e-6);
  });
});

describe('pre-processing and box mapping', () => {
  const input: ModelConfig['input'] = {
    width: 2,
    height: 1,
    layout: 'NCHW',
    colorOrder: 'BGR',
    dtype: 'float32',
    mean: [10, 20, 30],
    std: [2, 4, 5],
    fit: 'letterbox',
    padValue: 114,
  };

  it('lays out channels planar or interleaved, in the colour order, normalised', () => {
    const rgb = Uint8Array.from([100, 120, 140, 200, 220, 240]);
    // BGR planar: B plane, G plane, R plane; (v - mean[c]) / std[c] in the model's channel order.
    assert.deepEqual(Array.from(toInputData(rgb, input)), [65, 115, 25, 50, 14, 34]);
    assert.deepEqual(inputDims(input), [1, 3, 1, 2]);
    const nhwc = { ...input, layout: 'NHWC' as const, colorOrder: 'RGB' as const };
    assert.deepEqual(Array.from(toInputData(rgb, nhwc)), [45, 25, 22, 95, 50, 42]);
    assert.deepEqual(inputDims(nhwc), [1, 1, 2, 3]);
    assert.deepEqual(Array.from(toInputData(rgb, { ...input, dtype: 'uint8' })), [140, 240, 120, 220, 100, 200]);
  });

  it('letterbox placement is centred and its inverse maps boxes to the source, clamped', () => {
    const placement = placementOf(640, 320, 320, 320, 'letterbox');
    assert.deepEqual(placement, {
      inputWidth: 320,
      inputHeight: 320,
      scaledWidth: 320,
      scaledHeight: 160,
      padLeft: 0,
      padTop: 80,
    });
    assert.deepEqual(toSourceBox({ x1: 40, y1: 100, x2: 120, y2: 180 }, placement), {
      l: 0.125,
      t: 0.125,
      w: 0.25,
      h: 0.5,
    });
    assert.deepEqual(toSourceBox({ x1: -10, y1: 0, x2: 400, y2: 300 }, placement), { l: 0, t: 0, w: 1, h: 1 });
    assert.equal(toSourceBox({ x1: 0, y1: 0, x2: 50, y2: 70 }, placement), undefined, 'entirely in the bar');
    assert.deepEqual(placementOf(100, 50, 64, 64, 'stretch').scaledHeight, 64);
  });

  it('NMS keeps the best box per class and drops overlaps above the threshold', () => {
    const a = { box: { x1: 0, y1: 0, x2: 10, y2: 10 }, score: 0.9, classIndex: 0 };
    const b = { box: { x1: 1, y1: 1, x2: 11, y2: 11 }, score: 0.8, classIndex: 0 };
    const c = { box: { x1: 1, y1: 1, x2: 11, y2: 11 }, score: 0.7, classIndex: 1 };
    assert.ok(Math.abs(iou(a.box, b.box) - 81 / 119) < 1e-9);
    assert.deepEqual(nonMaxSuppression([b, c, a], 0.5, 10), [a, c]);
    assert.deepEqual(nonMaxSuppression([b, c, a], 0.7, 10), [a, b, c]);
    assert.deepEqual(nonMaxSuppression([b, c, a], 0.5, 1), [a]);
    assert.deepEqual(nonMaxSuppression([b, c, a], 0.5, 10, true), [a], 'class-agnostic');
  });
});
