import type { Detection } from '../../../vision/nms.js';
import { type DetectionDecoder, objectnessScore, outputOf } from './decoder.js';

/** The strides of YOLOX's three heads (P3-P5). */
export const YOLOX_STRIDES = [8, 16, 32] as const;

/**
 * YOLOX export without `decode_in_inference` (the default of its export script): one output [1, N, 5 + C] whose
 * rows are grid cells of the stride-8, 16 and 32 heads in order; (x, y) are offsets in cells, (w, h) log sizes,
 * objectness and class scores already sigmoid. Decoding: cx = (x + gridX) * stride, w = exp(w) * stride.
 */
export const decodeYoloX: DetectionDecoder = (outputs, context) => {
  const { data, dims } = outputOf(outputs);
  const width = dims[dims.length - 1] ?? 0;
  const classCount = width - 5;
  const rows = dims[1] ?? 0;
  const cells = YOLOX_STRIDES.map(
    (s) => Math.floor(context.inputWidth / s) * Math.floor(context.inputHeight / s),
  ).reduce((a, b) => a + b, 0);
  if (dims.length !== 3 || classCount < 1 || rows !== cells) {
    throw new Error(
      `yolox decoder expects an output [1, ${cells}, 5 + classes] for a ${context.inputWidth}x${context.inputHeight} ` +
        `input, got [${dims.join(', ')}]`,
    );
  }
  const found: Detection[] = [];
  let r = 0;
  for (const stride of YOLOX_STRIDES) {
    const gridW = Math.floor(context.inputWidth / stride);
    const gridH = Math.floor(context.inputHeight / stride);
    for (let gy = 0; gy < gridH; gy++) {
      for (let gx = 0; gx < gridW; gx++, r++) {
        const o = r * width;
        const hit = objectnessScore(data, o, classCount, context.minConfidence);
        if (hit === undefined) continue;
        const { classIndex, score } = hit;
        const cx = (data[o]! + gx) * stride;
        const cy = (data[o + 1]! + gy) * stride;
        const w = Math.exp(data[o + 2]!) * stride;
        const h = Math.exp(data[o + 3]!) * stride;
        found.push({ box: { x1: cx - w / 2, y1: cy - h / 2, x2: cx + w / 2, y2: cy + h / 2 }, score, classIndex });
      }
    }
  }
  return found;
};
