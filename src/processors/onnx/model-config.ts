import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Options, ValidateFunction } from 'ajv';
import { compileSchema } from '../../schema/compile.js';
import { formatAjvError } from '../../schema/validate.js';
import { COCO_LABELS } from '../../vision/coco-labels.js';
import { EXECUTION_PROVIDERS_SCHEMA, type ExecutionProvider } from '../../vision/onnx-session.js';
import { SSD_DEFAULT_OUTPUTS, type SsdOutputs } from './decoders/ssd.js';

export type DecoderType = 'yolov5' | 'yolov8' | 'yolox' | 'ssd' | 'classification';

/** `models/<name>/model.json`, with every default filled in. */
export interface ModelConfig {
  /** The model file, relative to the model directory. */
  file: string;
  input: {
    /** Input tensor name; the model's first input when omitted. */
    name?: string;
    width: number;
    height: number;
    layout: 'NCHW' | 'NHWC';
    colorOrder: 'RGB' | 'BGR';
    dtype: 'float32' | 'uint8';
    /** value = (pixel - mean) / std, per channel in the model's colour order; ignored for uint8. */
    mean: [number, number, number];
    std: [number, number, number];
    fit: 'letterbox' | 'stretch';
    padValue: number;
  };
  labels: string[];
  decoder:
    | { type: 'yolov5' | 'yolov8' | 'yolox' }
    | ({ type: 'ssd'; labelOffset: number } & SsdOutputs)
    | { type: 'classification'; output?: string; softmax: boolean; topK: number };
  minConfidence: number;
  iouThreshold: number;
  maxDetections: number;
  /** The inferences' subtype; defaults to the model's directory name. */
  subtype?: string;
  /** ONNX Runtime execution providers, in order of preference; `['cpu']` by default. */
  executionProviders: ExecutionProvider[];
}

const triple = { type: 'array', items: { type: 'number' }, minItems: 3, maxItems: 3 } as const;
const fraction = { type: 'number', minimum: 0, maximum: 1 } as const;

export const MODEL_JSON_VALIDATION: Options = { allErrors: true };

export const modelJsonSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['input', 'decoder'],
  properties: {
    file: { type: 'string', minLength: 1 },
    input: {
      type: 'object',
      additionalProperties: false,
      required: ['width', 'height'],
      properties: {
        name: { type: 'string' },
        width: { type: 'integer', minimum: 1, maximum: 4096 },
        height: { type: 'integer', minimum: 1, maximum: 4096 },
        layout: { enum: ['NCHW', 'NHWC'] },
        colorOrder: { enum: ['RGB', 'BGR'] },
        dtype: { enum: ['float32', 'uint8'] },
        mean: triple,
        std: triple,
        fit: { enum: ['letterbox', 'stretch'] },
        padValue: { type: 'integer', minimum: 0, maximum: 255 },
      },
    },
    labels: {
      oneOf: [
        { type: 'array', items: { type: 'string', minLength: 1 } },
        { const: 'coco' },
        { type: 'string', pattern: '\\.txt$' },
      ],
    },
    decoder: {
      type: 'object',
      required: ['type'],
      properties: {
        type: { enum: ['yolov5', 'yolov8', 'yolox', 'ssd', 'classification'] },
        labelOffset: { type: 'integer' },
        boxes: { type: 'string' },
        classes: { type: 'string' },
        scores: { type: 'string' },
        count: { type: 'string' },
        output: { type: 'string' },
        softmax: { type: 'boolean' },
        topK: { type: 'integer', minimum: 1 },
      },
      additionalProperties: false,
    },
    minConfidence: fraction,
    iouThreshold: fraction,
    maxDetections: { type: 'integer', minimum: 1 },
    subtype: { type: 'string', pattern: '^\\S(.*\\S)?$' },
    executionProviders: EXECUTION_PROVIDERS_SCHEMA,
  },
} as const;

/** model.json as written, after schema validation (every default still missing). */
interface RawModelJson {
  file?: string;
  input: Partial<Omit<ModelConfig['input'], 'width' | 'height'>> & { width: number; height: number };
  labels?: string[] | string;
  decoder: {
    type: DecoderType;
    labelOffset?: number;
    boxes?: string;
    classes?: string;
    scores?: string;
    count?: string;
    output?: string;
    softmax?: boolean;
    topK?: number;
  };
  minConfidence?: number;
  iouThreshold?: number;
  maxDetections?: number;
  subtype?: string;
  executionProviders?: ExecutionProvider[];
}

let compiled: ValidateFunction | undefined;

/** Reads and validates a model directory's model.json; the error lists every problem. */
export async function readModelConfig(dir: string): Promise<ModelConfig> {
  const path = join(dir, 'model.json');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
  compiled ??= compileSchema(modelJsonSchema, MODEL_JSON_VALIDATION);
  if (!compiled(raw)) {
    const problems = (compiled.errors ?? []).map(formatAjvError);
    throw new Error(`${path}: ${problems.join('; ')}`);
  }
  const json = raw as RawModelJson;
  const { input, decoder } = json;
  const type = decoder.type;
  const labels = await readLabels(dir, json.labels);
  const isDetector = type !== 'classification';
  return {
    file: json.file ?? 'model.onnx',
    input: {
      ...(input.name === undefined ? {} : { name: input.name }),
      width: input.width,
      height: input.height,
      layout: input.layout ?? 'NCHW',
      colorOrder: input.colorOrder ?? 'RGB',
      dtype: input.dtype ?? 'float32',
      mean: input.mean ?? [0, 0, 0],
      std: input.std ?? [255, 255, 255],
      fit: input.fit ?? (isDetector ? 'letterbox' : 'stretch'),
      padValue: input.padValue ?? 114,
    },
    labels,
    decoder:
      type === 'ssd'
        ? {
            type,
            labelOffset: decoder.labelOffset ?? 0,
            boxes: decoder.boxes ?? SSD_DEFAULT_OUTPUTS.boxes,
            classes: decoder.classes ?? SSD_DEFAULT_OUTPUTS.classes,
            scores: decoder.scores ?? SSD_DEFAULT_OUTPUTS.scores,
            count: decoder.count ?? SSD_DEFAULT_OUTPUTS.count,
          }
        : type === 'classification'
          ? {
              type,
              ...(decoder.output === undefined ? {} : { output: decoder.output }),
              softmax: decoder.softmax ?? false,
              topK: decoder.topK ?? 1,
            }
          : { type },
    minConfidence: json.minConfidence ?? (isDetector ? 0.25 : 0),
    iouThreshold: json.iouThreshold ?? 0.45,
    maxDetections: json.maxDetections ?? 100,
    ...(json.subtype === undefined ? {} : { subtype: json.subtype }),
    executionProviders: json.executionProviders ?? ['cpu'],
  };
}

async function readLabels(dir: string, labels: unknown): Promise<string[]> {
  if (labels === undefined || labels === 'coco') return [...COCO_LABELS];
  if (Array.isArray(labels)) return labels as string[];
  const text = await readFile(join(dir, String(labels)), 'utf8');
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
}
