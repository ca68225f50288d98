import { existsSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { defineProcessor, type OptionsSchema } from '../../contract/processor.js';
import { type Inference, round3 } from '../../schema/inference.js';
import { toSourceBox } from '../../vision/box.js';
import { fitFrame } from '../../vision/letterbox.js';
import { type Detection, nonMaxSuppression } from '../../vision/nms.js';
import { createSession, onnxRuntime } from '../../vision/onnx-session.js';
import { decodeClassification } from './decoders/classification.js';
import type { DetectionDecoder, OutputTensor } from './decoders/decoder.js';
import { ssdDecoder } from './decoders/ssd.js';
import { decodeYoloV5 } from './decoders/yolov5.js';
import { decodeYoloV8 } from './decoders/yolov8.js';
import { decodeYoloX } from './decoders/yolox.js';
import { inputDims, toInputData } from './input-tensor.js';
import { type ModelConfig, readModelConfig } from './model-config.js';

export interface OnnxOptions {
  /** A model name (a folder of `modelsDir`) or a path to a model directory. */
  model: string;
  /** Where model names are looked up, relative to the working directory. */
  modelsDir: string;
  /** Intra-op threads of the ONNX Runtime session in each worker. */
  threads: number;
}

const OPTIONS = {
  type: 'object',
  additionalProperties: false,
  required: ['model'],
  properties: {
    model: { type: 'string', minLength: 1 },
    modelsDir: { type: 'string', default: 'models' },
    threads: { type: 'integer', minimum: 1, maximum: 64, default: 1 },
  },
} as const satisfies OptionsSchema;

function modelDirectory(options: OnnxOptions): string {
  const { model, modelsDir } = options;
  if (isAbsolute(model) || model.startsWith('.') || model.includes('/')) return resolve(model);
  return resolve(modelsDir, model);
}

/**
 * A user's ONNX detector or classifier, described by `models/<name>/model.json` (see docs/processors.md): letterbox
 * pre-processing, the model, the decoder named in model.json, thresholds and NMS, boxes mapped back to the received
 * image.
 */
export default defineProcessor<OnnxOptions>({
  name: 'onnx',
  description: 'Serves an ONNX detector (yolov5, yolov8, yolox, ssd) or classifier from a model directory.',
  options: OPTIONS,
  parseOptions(raw) {
    const o = raw as unknown as OnnxOptions;
    const file = join(modelDirectory(o), 'model.json');
    if (!existsSync(file)) throw new Error(`${file} does not exist (see docs/processors.md, "Model directory")`);
    return o;
  },
  async create(options) {
    const dir = modelDirectory(options);
    const config = await readModelConfig(dir);
    const session = await createSession(join(dir, config.file), {
      threads: options.threads,
      executionProviders: config.executionProviders,
    });
    const ort = await onnxRuntime();
    const inputName = config.input.name ?? session.inputNames[0]!;
    const subtype = config.subtype ?? dir.split('/').filter(Boolean).pop() ?? 'onnx';
    const detector = detectorOf(config);

    async function run(rgb: Uint8Array): Promise<Map<string, OutputTensor>> {
      const data = toInputData(rgb, config.input);
      const tensor = new ort.Tensor(config.input.dtype, data, inputDims(config.input));
      const results = await session.run({ [inputName]: tensor });
      const outputs = new Map<string, OutputTensor>();
      for (const name of session.outputNames) {
        const value = results[name]!;
        const raw = value.data;
        const floats = raw instanceof Float32Array ? raw : Float32Array.from(raw as ArrayLike<number>, Number);
        outputs.set(name, { data: floats, dims: value.dims });
      }
      return outputs;
    }

    // Warm-up before the worker reports ready: the first run allocates and plans the graph.
    try {
      await run(new Uint8Array(config.input.width * config.input.height * 3));
    } catch (error) {
      const { width, height, layout } = config.input;
      throw new Error(
        `${join(dir, 'model.json')}: the model does not take its input as described (${width}x${height} ${layout}): ` +
          `${(error as Error).message}`,
        { cause: error },
      );
    }

    let released = false;
    return {
      async process(frame) {
        const fitted = await fitFrame(
          frame,
          config.input.width,
          config.input.height,
          config.input.fit,
          config.input.padValue,
        );
        const outputs = await run(fitted.rgb);
        if (config.decoder.type === 'classification') {
          const output =
            config.decoder.output === undefined ? outputs.values().next().value! : outputs.get(config.decoder.output);
          if (output === undefined) throw new Error(`model output ${config.decoder.output} not found`);
          return decodeClassification(output, { ...config.decoder, minConfidence: config.minConfidence }).map(
            (c): Inference => ({
              type: 'classification',
              subtype,
              classification: { tag: { value: labelOf(config, c.classIndex), confidence: round3(c.score) } },
            }),
          );
        }
        const candidates = detector!(outputs, {
          inputWidth: config.input.width,
          inputHeight: config.input.height,
          classCount: config.labels.length,
          minConfidence: config.minConfidence,
        });
        const offset = config.decoder.type === 'ssd' ? config.decoder.labelOffset : 0;
        const kept = nonMaxSuppression(candidates, config.iouThreshold, config.maxDetections);
        return kept.flatMap((d: Detection): Inference[] => {
          const box = toSourceBox(d.box, fitted.placement);
          if (box === undefined) return [];
          const tag = { value: labelOf(config, d.classIndex - offset), confidence: round3(d.score) };
          return [{ type: 'entity', subtype, entity: { tag, box } }];
        });
      },
      async dispose() {
        // Idempotent: a second call must not throw on the released session.
        if (released) return;
        released = true;
        await session.release();
      },
    };
  },
});

function detectorOf(config: ModelConfig): DetectionDecoder | undefined {
  switch (config.decoder.type) {
    case 'yolov5':
      return decodeYoloV5;
    case 'yolov8':
      return decodeYoloV8;
    case 'yolox':
      return decodeYoloX;
    case 'ssd':
      return ssdDecoder(config.decoder);
    case 'classification':
      return undefined;
  }
}

/** A class the labels do not name is still reported, by number, rather than dropped. */
function labelOf(config: ModelConfig, index: number): string {
  return config.labels[index] ?? `class ${index}`;
}
