import type { Detection } from '../../../vision/nms.js';
import { type DetectionDecoder, objectnessScore, outputOf } from './decoder.js';

/**
 * YOLOv5/YOLOv7 export: one output [1, N, 5 + C], rows (cx, cy, w, h, objectness, class scores...) in input
 * pixels; score = objectness x best class score.
 */
export const decodeYoloV5: DetectionDecoder = (outputs, context) => {
  const { data, dims } = outputOf(outputs);
  const width = dims[dims.length - 1] ?? 0;
  const classCount = width - 5;
  if (dims.length !== 3 || classCount < 1) {
    throw new Error(`yolov5 decoder expects an output [1, N, 5 + classes], got [${dims.join(', ')}]`);
  }
  const rows = dims[1] ?? 0;
  const found: Detection[] = [];
  for (let r = 0; r < rows; r++) {
    const o = r * width;
    const hit = objectnessScore(data, o, classCount, context.minConfidence);
    if (hit === undefined) continue;
    const { classIndex, score } = hit;
    const cx = data[o]!;
    const cy = data[o + 1]!;
    const w = data[o + 2]!;
    const h = data[o + 3]!;
    found.push({ box: { x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 }, score, classIndex });
  }
  return found;
};
