import type { Detection } from '../../../vision/nms.js';
import { type DetectionDecoder, outputOf } from './decoder.js';

/** Output names of an SSD-style detector (TensorFlow Object Detection API export by default). */
export interface SsdOutputs {
  boxes: string;
  classes: string;
  scores: string;
  /** Optional: number of valid rows. */
  count?: string | undefined;
}

export const SSD_DEFAULT_OUTPUTS: SsdOutputs = {
  boxes: 'detection_boxes',
  classes: 'detection_classes',
  scores: 'detection_scores',
  count: 'num_detections',
};

/**
 * SSD / TF Object Detection API export: boxes [1, N, 4] as (ymin, xmin, ymax, xmax) normalised to the input, class
 * ids [1, N] and scores [1, N], optionally the count of valid rows [1]. NMS has usually run inside the model already;
 * running it again is harmless.
 */
export function ssdDecoder(names: SsdOutputs): DetectionDecoder {
  return (outputs, context) => {
    const boxes = outputOf(outputs, names.boxes).data;
    const classes = outputOf(outputs, names.classes).data;
    const scores = outputOf(outputs, names.scores).data;
    const count =
      names.count !== undefined && outputs.has(names.count) ? outputOf(outputs, names.count).data[0] : undefined;
    const rows = Math.min(
      scores.length,
      classes.length,
      Math.floor(boxes.length / 4),
      count ?? Number.POSITIVE_INFINITY,
    );
    const found: Detection[] = [];
    for (let i = 0; i < rows; i++) {
      const score = scores[i]!;
      if (score < context.minConfidence) continue;
      found.push({
        box: {
          x1: boxes[i * 4 + 1]! * context.inputWidth,
          y1: boxes[i * 4]! * context.inputHeight,
          x2: boxes[i * 4 + 3]! * context.inputWidth,
          y2: boxes[i * 4 + 2]! * context.inputHeight,
        },
        score,
        classIndex: Math.round(classes[i]!),
      });
    }
    return found;
  };
}
