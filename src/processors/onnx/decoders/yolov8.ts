import type { Detection } from '../../../vision/nms.js';
import { bestClass, type DetectionDecoder, outputOf } from './decoder.js';

/**
 * YOLOv8/YOLO11 export: one output [1, 4 + C, N] (attributes first, anchors last), (cx, cy, w, h, class scores...)
 * in input pixels, no objectness.
 */
export const decodeYoloV8: DetectionDecoder = (outputs, context) => {
  const { data, dims } = outputOf(outputs);
  const attributes = dims[1] ?? 0;
  const anchors = dims[2] ?? 0;
  const classCount = attributes - 4;
  if (dims.length !== 3 || classCount < 1) {
    throw new Error(`yolov8 decoder expects an output [1, 4 + classes, N], got [${dims.join(', ')}]`);
  }
  const found: Detection[] = [];
  for (let a = 0; a < anchors; a++) {
    const [classIndex, score] = bestClass(data, 4 * anchors + a, classCount, anchors);
    if (score < context.minConfidence) continue;
    const cx = data[a]!;
    const cy = data[anchors + a]!;
    const w = data[2 * anchors + a]!;
    const h = data[3 * anchors + a]!;
    found.push({ box: { x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 }, score, classIndex });
  }
  return found;
};
