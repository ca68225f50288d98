import { type Inference, round3 } from '../../schema/inference.js';
import { toSourceBox } from '../../vision/box.js';
import { COCO_LABELS } from '../../vision/coco-labels.js';
import { type FitMode, fitFrame } from '../../vision/letterbox.js';
import { nonMaxSuppression } from '../../vision/nms.js';
import { defineProcessor, type OptionsSchema } from '../processor.js';
import { defaultModelPath, loadCenterNet } from './centernet.js';

export interface ObjectDetectionOptions {
  /** Detections below this score are dropped before NMS (the query's ?confidence= can only raise it). */
  minConfidence: number;
  /** NMS overlap above which the weaker box of the same class is dropped. */
  iouThreshold: number;
  maxDetections: number;
  /** How the frame is fitted into the 512x512 input. */
  fit: FitMode;
  /** A TF.js graph model.json with the same outputs; defaults to the CenterNet shipped by @vladmandic/human. */
  modelPath: string | null;
}

const OPTIONS = {
  type: 'object',
  additionalProperties: false,
  properties: {
    minConfidence: { type: 'number', minimum: 0, maximum: 1, default: 0.3 },
    iouThreshold: { type: 'number', minimum: 0, maximum: 1, default: 0.5 },
    maxDetections: { type: 'integer', minimum: 1, default: 50 },
    fit: { enum: ['letterbox', 'stretch'], default: 'letterbox' },
    modelPath: { type: ['string', 'null'], default: null },
  },
} as const satisfies OptionsSchema;

/**
 * COCO-80 object detection with the CenterNet that ships on npm (@vladmandic/human, MIT), on TF.js WASM. Answers one
 * `entity` per object, box normalised to the received image (bars included).
 */
export default defineProcessor<ObjectDetectionOptions>({
  name: 'objectDetection',
  description: 'Finds the 80 COCO object classes (person, car, ...) with CenterNet on TF.js WASM.',
  options: OPTIONS,
  // The model sees 512x512: a large JPEG may be decoded at 1/2 or 1/4 scale (DCT scaling, much cheaper than a full
  // decode) as long as at least 512x512 pixels remain.
  frameRequirements: () => ({ maxReduction: 4, minReducedPixels: 512 * 512 }),
  async create(options) {
    const model = await loadCenterNet(options.modelPath ?? defaultModelPath());
    // Warm-up: the first run compiles kernels and allocates; do it before the worker reports ready.
    await model.detect(new Uint8Array(model.inputSize * model.inputSize * 3));
    let released = false;
    return {
      async process(frame) {
        const fitted = await fitFrame(frame, model.inputSize, model.inputSize, options.fit, 0);
        const raw = (await model.detect(fitted.rgb)).filter((d) => d.score >= options.minConfidence);
        // Class-agnostic: CenterNet often proposes one object under two labels (car and truck on the same van).
        const kept = nonMaxSuppression(raw, options.iouThreshold, options.maxDetections, true);
        const inferences: Inference[] = [];
        for (const detection of kept) {
          const box = toSourceBox(detection.box, fitted.placement);
          const label = COCO_LABELS[detection.classIndex];
          if (box === undefined || label === undefined) continue;
          inferences.push({
            type: 'entity',
            subtype: 'objectDetection',
            entity: { tag: { value: label, confidence: round3(detection.score) }, box },
          });
        }
        return inferences;
      },
      dispose() {
        if (released) return;
        released = true;
        model.dispose();
      },
    };
  },
});
