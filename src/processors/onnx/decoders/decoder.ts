import type { Detection } from '../../../vision/nms.js';

/** One output tensor as the runtime returns it: flat data and its dimensions. */
export interface OutputTensor {
  data: Float32Array;
  dims: readonly number[];
}

export interface DecodeContext {
  /** Model input size in pixels (boxes are decoded into this space). */
  inputWidth: number;
  inputHeight: number;
  classCount: number;
  /** Candidates scoring below this are dropped before NMS. */
  minConfidence: number;
}

/** A detector's decoder: raw outputs -> candidate boxes in input pixels, before NMS. */
export type DetectionDecoder = (outputs: ReadonlyMap<string, OutputTensor>, context: DecodeContext) => Detection[];

/** The model's only output, or the named one; a clear error if it is missing. */
export function outputOf(outputs: ReadonlyMap<string, OutputTensor>, name?: string): OutputTensor {
  const tensor = name === undefined ? outputs.values().next().value : outputs.get(name);
  if (tensor === undefined) {
    throw new Error(`model output ${name ?? '(first)'} not found; outputs are ${[...outputs.keys()].join(', ')}`);
  }
  return tensor;
}

/** The best class of a row of class scores starting at `offset`. */
export function bestClass(data: Float32Array, offset: number, count: number, step = 1): [number, number] {
  let best = 0;
  let score = Number.NEGATIVE_INFINITY;
  for (let c = 0; c < count; c++) {
    const s = data[offset + c * step]!;
    if (s > score) {
      score = s;
      best = c;
    }
  }
  return [best, score];
}

/**
 * YOLOv5/YOLOX rows (cx, cy, w, h, objectness, class scores...): the row's best class and its score
 * (objectness x class score), or undefined when either is below the confidence floor.
 */
export function objectnessScore(
  data: Float32Array,
  offset: number,
  classCount: number,
  minConfidence: number,
): { classIndex: number; score: number } | undefined {
  const objectness = data[offset + 4]!;
  if (objectness < minConfidence) return undefined;
  const [classIndex, classScore] = bestClass(data, offset + 5, classCount);
  const score = objectness * classScore;
  return score < minConfidence ? undefined : { classIndex, score };
}
