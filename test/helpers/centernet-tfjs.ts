import type { GraphModel } from '@tensorflow/tfjs-converter';
import type * as TfCore from '@tensorflow/tfjs-core';
import { defaultModelPath } from '../../src/processors/object-detection/centernet.js';
import type { Detection } from '../../src/vision/nms.js';

/**
 * The shipped CenterNet on TensorFlow.js (WASM backend), as objectDetection ran it before ONNX Runtime: the reference
 * the conversion is checked against, and the old side of `npm run bench:processors`. Development only.
 */
export interface TfjsCenterNet {
  inputSize: number;
  /** The graph's own decoding (`tower_0/detections`: top 100 peaks as x1, y1, x2, y2, score, class) in input pixels. */
  detect(rgb: Uint8Array, minScore: number): Promise<Detection[]>;
  /** The network's outputs, NHWC: `tower_0/keypoints` 1x128x128x80 and `tower_0/wh` 1x128x128x4. */
  raw(rgb: Uint8Array): Promise<{ keypoints: Float32Array; wh: Float32Array }>;
  dispose(): void;
}

/** Loads TF.js lazily: importing it registers backends and globals. */
export async function loadTfjsCenterNet(modelPath: string = defaultModelPath()): Promise<TfjsCenterNet> {
  const tf: typeof TfCore = await import('@tensorflow/tfjs-core');
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  const { loadGraphModel } = await import('@tensorflow/tfjs-converter');
  // One thread per worker, as the server ran it: parallelism came from workers.
  wasm.setThreadsCount(1);
  if (tf.getBackend() !== 'wasm') {
    await tf.setBackend('wasm');
    await tf.ready();
  }
  const { readFile } = await import('node:fs/promises');
  const json = JSON.parse(await readFile(modelPath, 'utf8')) as {
    modelTopology: object;
    weightsManifest: Array<{ paths: string[]; weights: TfCore.io.WeightsManifestEntry[] }>;
  };
  const dir = modelPath.slice(0, modelPath.lastIndexOf('/') + 1);
  const shards = await Promise.all(json.weightsManifest.flatMap((g) => g.paths).map((p) => readFile(dir + p)));
  const weights = Buffer.concat(shards);
  const model: GraphModel = await loadGraphModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
      weightData: weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength) as ArrayBuffer,
    }),
  );
  const inputSize = 512;
  const input = (rgb: Uint8Array) => tf.tensor4d(Float32Array.from(rgb), [1, inputSize, inputSize, 3], 'float32');
  return {
    inputSize,
    async detect(rgb, minScore) {
      const x = input(rgb);
      const output = model.execute(x, 'tower_0/detections') as TfCore.Tensor;
      try {
        const rows = await output.data();
        const detections: Detection[] = [];
        for (let i = 0; i + 5 < rows.length; i += 6) {
          const score = rows[i + 4]!;
          if (!(score >= minScore)) continue;
          const box = { x1: rows[i]!, y1: rows[i + 1]!, x2: rows[i + 2]!, y2: rows[i + 3]! };
          detections.push({ box, score, classIndex: Math.round(rows[i + 5]!) });
        }
        return detections;
      } finally {
        x.dispose();
        output.dispose();
      }
    },
    async raw(rgb) {
      const x = input(rgb);
      const [keypoints, wh] = model.execute(x, ['tower_0/keypoints', 'tower_0/wh']) as TfCore.Tensor[];
      try {
        return { keypoints: (await keypoints!.data()) as Float32Array, wh: (await wh!.data()) as Float32Array };
      } finally {
        x.dispose();
        keypoints!.dispose();
        wh!.dispose();
      }
    },
    dispose() {
      model.dispose();
    },
  };
}
