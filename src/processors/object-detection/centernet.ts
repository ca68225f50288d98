import { readFile } from 'node:fs/promises';
import type { GraphModel } from '@tensorflow/tfjs-converter';
import type * as TfCore from '@tensorflow/tfjs-core';
import type { Detection } from '../../vision/nms.js';
import { packageFile } from '../../vision/package-file.js';

type Tf = typeof TfCore;

/** The COCO-80 CenterNet (MobileNetV3) that @vladmandic/human ships as a TF.js graph model, run on the WASM backend. */
export interface CenterNet {
  inputSize: number;
  /** `rgb` is packed RGB24 of inputSize x inputSize; returns raw detections in input pixels. */
  detect(rgb: Uint8Array): Promise<Detection[]>;
  dispose(): void;
}

const OUTPUT = 'tower_0/detections';

export function defaultModelPath(): string {
  return packageFile('@vladmandic/human', '../models/centernet.json');
}

interface ModelJson {
  modelTopology: unknown;
  weightsManifest: Array<{ paths: string[]; weights: TfCore.io.WeightsManifestEntry[] }>;
  signature?: { inputs?: Record<string, { tensorShape?: { dim?: Array<{ size?: string }> } }> };
}

/**
 * Loads TF.js lazily: importing it registers backends and globals, which only a worker that serves this processor
 * should pay for.
 */
export async function loadCenterNet(modelPath: string): Promise<CenterNet> {
  const tf: Tf = await import('@tensorflow/tfjs-core');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const { loadGraphModel } = await import('@tensorflow/tfjs-converter');
  // One thread per worker: parallelism comes from workers (measured faster than threads on this workload).
  wasm.setThreadsCount(1);
  if (tf.getBackend() !== 'wasm') {
    await tf.setBackend('wasm');
    await tf.ready();
  }
  const json = JSON.parse(await readFile(modelPath, 'utf8')) as ModelJson;
  const dir = modelPath.slice(0, modelPath.lastIndexOf('/') + 1);
  const buffers = await Promise.all(
    json.weightsManifest.flatMap((group) => group.paths).map((path) => readFile(dir + path)),
  );
  const weights = Buffer.concat(buffers);
  const model: GraphModel = await loadGraphModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology as object,
      weightSpecs: json.weightsManifest.flatMap((group) => group.weights),
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer,
    }),
  );
  const dims = Object.values(json.signature?.inputs ?? {})[0]?.tensorShape?.dim;
  const inputSize = Number.parseInt(dims?.[1]?.size ?? '512', 10);
  return {
    inputSize,
    async detect(rgb) {
      const input = tf.tensor4d(Float32Array.from(rgb), [1, inputSize, inputSize, 3], 'float32');
      let output: TfCore.Tensor | undefined;
      try {
        output = model.execute(input, OUTPUT) as TfCore.Tensor;
        const rows = await output.data();
        const detections: Detection[] = [];
        // Rows are [x1, y1, x2, y2, score, class], already the top 100 of the heat map.
        for (let i = 0; i + 5 < rows.length; i += 6) {
          const classIndex = rows[i + 5]!;
          const score = rows[i + 4]!;
          if (!Number.isFinite(classIndex) || !Number.isFinite(score)) continue;
          detections.push({
            box: { x1: rows[i]!, y1: rows[i + 1]!, x2: rows[i + 2]!, y2: rows[i + 3]! },
            score,
            classIndex: Math.round(classIndex),
          });
        }
        return detections;
      } finally {
        input.dispose();
        output?.dispose();
      }
    },
    dispose() {
      model.dispose();
    },
  };
}
