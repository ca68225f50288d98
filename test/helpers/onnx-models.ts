import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildOnnxModel, type ModelSpec } from '../../src/vision/onnx-writer.js';

/**
 * Tiny ONNX models whose outputs are known, written into `<root>/<name>/` with their model.json. Detectors output
 * constants (the input is read but ignored), so each decoder is proven against exact expected boxes; classifiers
 * average the input's channels, so they prove the layout, colour order and normalisation of the pre-processing.
 */
export const INPUT = 320;
export const LABELS = ['cat', 'dog', 'bird'];

/** Detections in input pixels (cx, cy, w, h), class scores for cat/dog/bird. */
const ROWS = [
  { cx: 80, cy: 140, w: 80, h: 80, objectness: 0.9, classes: [0.1, 0.9, 0.2] }, // dog 0.81
  { cx: 82, cy: 142, w: 80, h: 80, objectness: 0.8, classes: [0.1, 0.9, 0.2] }, // dog 0.72, overlaps: NMS drops it
  { cx: 240, cy: 100, w: 160, h: 80, objectness: 0.95, classes: [1, 0, 0] }, // cat 0.95, partly in the top bar
  { cx: 100, cy: 100, w: 10, h: 10, objectness: 0.1, classes: [0, 0, 1] }, // bird 0.1: under the threshold
];

function write(root: string, name: string, spec: ModelSpec, config: object): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'model.onnx'), buildOnnxModel(spec));
  writeFileSync(join(dir, 'model.json'), JSON.stringify(config, null, 2));
  return dir;
}

function constantModel(outputs: Array<{ name: string; dims: number[]; values: number[] }>): ModelSpec {
  return {
    inputs: [{ name: 'images', shape: [1, 3, INPUT, INPUT] }],
    outputs: outputs.map((o) => ({ name: o.name, shape: o.dims })),
    nodes: outputs.map((o) => ({ op: 'Identity', inputs: [`${o.name}_value`], outputs: [o.name] })),
    constants: outputs.map((o) => ({ name: `${o.name}_value`, dims: o.dims, values: o.values })),
  };
}

const detectorInput = { width: INPUT, height: INPUT };

export function writeTestModels(root: string): void {
  const v5 = ROWS.flatMap((r) => [r.cx, r.cy, r.w, r.h, r.objectness, ...r.classes]);
  write(root, 'yolov5', constantModel([{ name: 'output0', dims: [1, ROWS.length, 8], values: v5 }]), {
    input: detectorInput,
    labels: LABELS,
    decoder: { type: 'yolov5' },
  });

  // YOLOv8 has no objectness: its class scores are the final scores, attributes first.
  const v8Rows = ROWS.map((r) => [r.cx, r.cy, r.w, r.h, ...r.classes.map((c) => c * r.objectness)]);
  const v8 = Array.from({ length: 7 }, (_, a) => v8Rows.map((row) => row[a]!)).flat();
  write(root, 'yolov8', constantModel([{ name: 'output0', dims: [1, 7, ROWS.length], values: v8 }]), {
    input: detectorInput,
    labels: LABELS,
    decoder: { type: 'yolov8' },
  });

  // YOLOX: 40x40 + 20x20 + 10x10 grid rows; the dog in a stride-16 cell, the cat in a stride-32 cell.
  const yolox = new Array<number>(2100 * 8).fill(0);
  const cell = (row: number, values: number[]) => yolox.splice(row * 8, 8, ...values);
  cell(1600 + 8 * 20 + 5, [80 / 16 - 5, 140 / 16 - 8, Math.log(80 / 16), Math.log(80 / 16), 0.9, 0.1, 0.9, 0.2]);
  cell(2000 + 3 * 10 + 7, [240 / 32 - 7, 100 / 32 - 3, Math.log(160 / 32), Math.log(80 / 32), 0.95, 1, 0, 0]);
  cell(0, [0, 0, 0, 0, 0.1, 0, 0, 1]);
  write(root, 'yolox', constantModel([{ name: 'output', dims: [1, 2100, 8], values: yolox }]), {
    input: detectorInput,
    labels: LABELS,
    decoder: { type: 'yolox' },
  });

  // SSD (TF Object Detection API): (ymin, xmin, ymax, xmax) normalised, 1-based class ids, a valid-row count.
  const corners = ROWS.map((r) => [
    (r.cy - r.h / 2) / INPUT,
    (r.cx - r.w / 2) / INPUT,
    (r.cy + r.h / 2) / INPUT,
    (r.cx + r.w / 2) / INPUT,
  ]);
  write(
    root,
    'ssd',
    constantModel([
      { name: 'detection_boxes', dims: [1, 4, 4], values: corners.flat() },
      { name: 'detection_classes', dims: [1, 4], values: [2, 2, 1, 3] },
      { name: 'detection_scores', dims: [1, 4], values: [0.81, 0.72, 0.95, 0.9] },
      // The bird scores 0.9 but lies past the valid count: it must not be reported.
      { name: 'num_detections', dims: [1], values: [3] },
    ]),
    { input: detectorInput, labels: LABELS, decoder: { type: 'ssd', labelOffset: 1 } },
  );

  // Classifiers: the mean of each input channel, in the model's layout and colour order, is the class score.
  write(
    root,
    'colour-nchw',
    {
      inputs: [{ name: 'pixels', shape: [1, 3, 32, 32] }],
      outputs: [{ name: 'scores', shape: [1, 3] }],
      nodes: [
        { op: 'ReduceMean', inputs: ['pixels'], outputs: ['scores'], ints: { axes: [2, 3] }, int: { keepdims: 0 } },
      ],
    },
    { input: { width: 32, height: 32 }, labels: ['red', 'green', 'blue'], decoder: { type: 'classification' } },
  );
  write(
    root,
    'colour-nhwc-bgr',
    {
      inputs: [{ name: 'pixels', shape: [1, 32, 32, 3] }],
      outputs: [{ name: 'scores', shape: [1, 3] }],
      nodes: [
        { op: 'ReduceMean', inputs: ['pixels'], outputs: ['scores'], ints: { axes: [1, 2] }, int: { keepdims: 0 } },
      ],
    },
    {
      input: { width: 32, height: 32, layout: 'NHWC', colorOrder: 'BGR', mean: [0, 0, 0], std: [510, 510, 510] },
      labels: ['blue', 'green', 'red'],
      decoder: { type: 'classification', topK: 2 },
      subtype: 'colour',
    },
  );
}
