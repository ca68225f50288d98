import { readFile } from 'node:fs/promises';
import { createSession, onnxRuntime, type SessionSettings } from '../../vision/onnx-session.js';
import { buildOnnxModel } from '../../vision/onnx-writer.js';
import { packageFile } from '../../vision/package-file.js';
import { inputDims, toInputData } from '../onnx/input-tensor.js';
import type { ModelConfig } from '../onnx/model-config.js';
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

function sourcePackage(modelJsonPath: string): string {
  if (modelJsonPath !== defaultModelPath()) return modelJsonPath;
  const pkg = packageFile('@vladmandic/human', '../package.json');
  return `@vladmandic/human (${pkg}) models/centernet.json`;
}

/**
 * Converts the TF.js CenterNet into ONNX bytes, from the files in node_modules (nothing is downloaded). The weights are
 * the package's float16 values widened to float32, as TF.js itself holds them.
 */
export async function convertCenterNet(modelJsonPath: string = defaultModelPath()): Promise<Uint8Array> {
  const graph = await readTfjsGraph(modelJsonPath);
  let version = '';
  if (modelJsonPath === defaultModelPath()) {
    const pkg = JSON.parse(await readFile(packageFile('@vladmandic/human', '../package.json'), 'utf8')) as {
      version: string;
    };
    version = ` ${pkg.version}`;
  }
  return buildOnnxModel(
    tfjsToOnnx(graph, {
      outputs: OUTPUTS,
      inputName: INPUT,
      producer: 'httpextension',
      docString: `CenterNet (MobileNetV3, COCO-80) converted from ${sourcePackage(modelJsonPath)}${version}; MIT`,
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
  const input: ModelConfig['input'] = {
    width: inputSize,
    height: inputSize,
    layout: 'NCHW',
    colorOrder: 'RGB',
    dtype: 'float32',
    // The network takes pixel values 0..255 as they are.
    mean: [0, 0, 0],
    std: [1, 1, 1],
    fit: 'letterbox',
    padValue: 0,
  };
  return {
    inputSize,
    async run(rgb) {
      const tensor = new ort.Tensor('float32', toInputData(rgb, input), inputDims(input));
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
