import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { createSession, onnxRuntime, type SessionSettings } from '../../vision/onnx-session.js';
import { buildOnnxModel } from '../../vision/onnx-writer.js';
import { packageFile } from '../../vision/package-file.js';
import type { HeatMaps } from './centernet-decoder.js';
import { readTfjsGraph } from './tfjs-graph.js';
import { tfjsToOnnx } from './tfjs-to-onnx.js';

/** The COCO-80 CenterNet (MobileNetV3) that @vladmandic/human ships as a TF.js graph model, run on ONNX Runtime. */
export interface CenterNet {
  inputSize: number;
  /** `rgb` is packed RGB24 of inputSize x inputSize; returns the raw heat maps and box sizes. */
  run(rgb: Uint8Array): Promise<HeatMaps>;
  dispose(): Promise<void>;
}

/** The graph's network outputs (its own top-100 decoding is not converted: centernet-decoder.ts does that). */
const OUTPUTS = { 'tower_0/keypoints': 'heatmap', 'tower_0/wh': 'wh' };
const INPUT = 'images';

export function defaultModelPath(): string {
  return packageFile('@vladmandic/human', '../models/centernet.json');
}

/**
 * Converts the TF.js CenterNet into ONNX bytes, from the files in node_modules (nothing is downloaded). The weights are
 * the package's float16 values widened to float32, as TF.js itself holds them.
 */
export async function convertCenterNet(modelJsonPath: string = defaultModelPath()): Promise<Uint8Array> {
  const graph = await readTfjsGraph(modelJsonPath);
  // The file's own note of where it came from, without local paths, so that the bytes depend on the package alone.
  let source = basename(modelJsonPath);
  if (modelJsonPath === defaultModelPath()) {
    const pkg = JSON.parse(await readFile(packageFile('@vladmandic/human', '../package.json'), 'utf8')) as {
      version: string;
    };
    source = `@vladmandic/human ${pkg.version} models/centernet.json (MIT)`;
  }
  return buildOnnxModel(
    tfjsToOnnx(graph, {
      outputs: OUTPUTS,
      inputName: INPUT,
      producer: 'httpextension',
      docString: `CenterNet (MobileNetV3, COCO-80) converted by httpextension from ${source}`,
    }),
  );
}

/**
 * `modelPath` is either a TF.js graph model.json (converted in memory at load: the default, so the ONNX model always
 * matches the installed package) or an .onnx file written by scripts/convert-centernet.ts.
 */
export async function loadCenterNet(modelPath: string, settings: SessionSettings): Promise<CenterNet> {
  const model = modelPath.endsWith('.onnx')
    ? new Uint8Array(await readFile(modelPath))
    : await convertCenterNet(modelPath);
  const session = await createSession(model, settings);
  const ort = await onnxRuntime();
  const inputSize = 512;
  return {
    inputSize,
    async run(rgb) {
      const tensor = new ort.Tensor('float32', planarFloats(rgb), [1, 3, inputSize, inputSize]);
      const results = await session.run({ [INPUT]: tensor });
      const heatmap = results.heatmap!;
      const wh = results.wh!;
      const [, classes, gridHeight, gridWidth] = heatmap.dims as [number, number, number, number];
      return {
        heatmap: heatmap.data as Float32Array,
        wh: wh.data as Float32Array,
        classes,
        gridWidth,
        gridHeight,
        stride: inputSize / gridWidth,
      };
    },
    async dispose() {
      await session.release();
    },
  };
}

/**
 * Packed RGB24 -> the network's NCHW float input, pixel values 0..255 as they are (no mean, no scale). One pass
 * writing the three planes, a few times cheaper than the `onnx` processor's general layout/normalisation loop.
 */
function planarFloats(rgb: Uint8Array): Float32Array {
  const pixels = rgb.length / 3;
  const out = new Float32Array(rgb.length);
  for (let p = 0, i = 0; p < pixels; p++, i += 3) {
    out[p] = rgb[i]!;
    out[pixels + p] = rgb[i + 1]!;
    out[2 * pixels + p] = rgb[i + 2]!;
  }
  return out;
}
