import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';

/** One node of a TF.js graph model (a GraphDef node in JSON). */
export interface TfNode {
  name: string;
  op: string;
  input?: string[];
  attr?: Record<string, TfAttr>;
}

export interface TfAttr {
  b?: boolean;
  i?: string;
  f?: number;
  s?: string;
  list?: { i?: string[]; s?: string[] };
}

export interface TfWeight {
  shape: number[];
  /** Dequantised: float32 weights as TF.js itself would hold them after loading. */
  data: Float32Array | Int32Array;
}

/** A TF.js graph model read without TensorFlow: its nodes, its weights by name, its input and output names. */
export interface TfGraph {
  nodes: Map<string, TfNode>;
  weights: Map<string, TfWeight>;
  inputs: Array<{ name: string; shape: number[] }>;
  outputs: string[];
}

interface ModelJson {
  format?: string;
  modelTopology: { node: TfNode[] };
  weightsManifest: Array<{ paths: string[]; weights: WeightEntry[] }>;
  signature?: {
    inputs?: Record<string, { name: string; tensorShape?: { dim?: Array<{ size?: string }> } }>;
    outputs?: Record<string, { name: string }>;
  };
}

interface WeightEntry {
  name: string;
  shape: number[];
  dtype: string;
  quantization?: { dtype: string; scale?: number; min?: number };
}

/** Reads `model.json` and its weight shards (the paths in the manifest, beside it). */
export async function readTfjsGraph(modelJsonPath: string): Promise<TfGraph> {
  const json = JSON.parse(await readFile(modelJsonPath, 'utf8')) as ModelJson;
  if (json.format !== 'graph-model') throw new Error(`${modelJsonPath}: not a TF.js graph model`);
  const dir = dirname(modelJsonPath);
  const weights = new Map<string, TfWeight>();
  for (const group of json.weightsManifest) {
    const shards = await Promise.all(group.paths.map((path) => readFile(join(dir, path))));
    const bytes = Buffer.concat(shards);
    let offset = 0;
    for (const entry of group.weights) {
      const count = entry.shape.reduce((n, d) => n * d, 1);
      const { data, byteLength } = decodeWeight(entry, bytes, offset, count);
      weights.set(entry.name, { shape: entry.shape, data });
      offset += byteLength;
    }
  }
  const signature = json.signature ?? {};
  const inputs = Object.values(signature.inputs ?? {}).map((input) => ({
    name: input.name,
    shape: (input.tensorShape?.dim ?? []).map((d) => Number.parseInt(d.size ?? '-1', 10)),
  }));
  return {
    nodes: new Map(json.modelTopology.node.map((node) => [node.name, node])),
    weights,
    inputs,
    outputs: Object.values(signature.outputs ?? {}).map((output) => output.name),
  };
}

function decodeWeight(
  entry: WeightEntry,
  bytes: Buffer,
  offset: number,
  count: number,
): { data: Float32Array | Int32Array; byteLength: number } {
  const q = entry.quantization;
  if (q === undefined) {
    if (entry.dtype === 'int32')
      return { data: new Int32Array(littleEndian(bytes, offset, count, 4)), byteLength: count * 4 };
    if (entry.dtype === 'float32')
      return { data: new Float32Array(littleEndian(bytes, offset, count, 4)), byteLength: count * 4 };
    throw new Error(`weight ${entry.name}: dtype ${entry.dtype} is not supported`);
  }
  if (q.dtype === 'float16') {
    const halves = new Uint16Array(littleEndian(bytes, offset, count, 2));
    const table = halfTable();
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = table[halves[i]!]!;
    return { data, byteLength: count * 2 };
  }
  // Affine quantisation (TF.js's uint8/uint16 weights): value = q * scale + min.
  if ((q.dtype === 'uint8' || q.dtype === 'uint16') && q.scale !== undefined && q.min !== undefined) {
    const wide = q.dtype === 'uint16';
    if (!wide && offset + count > bytes.length) throw new RangeError('weight data runs past the end of its shards');
    const raw = wide ? new Uint16Array(littleEndian(bytes, offset, count, 2)) : bytes.subarray(offset, offset + count);
    const { scale, min } = q;
    const data = new Float32Array(count);
    for (let i = 0; i < count; i++) data[i] = raw[i]! * scale + min;
    return { data, byteLength: count * (wide ? 2 : 1) };
  }
  throw new Error(`weight ${entry.name}: quantization ${q.dtype} is not supported`);
}

const hostIsLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * A fresh, aligned copy of `count` little-endian elements of `size` bytes, in host order, for a typed-array view:
 * one bulk copy instead of a DataView read per element (the shards' offsets need not be aligned).
 */
function littleEndian(bytes: Buffer, offset: number, count: number, size: 2 | 4): ArrayBuffer {
  const end = offset + count * size;
  if (end > bytes.length) throw new RangeError('weight data runs past the end of its shards');
  const copy = new Uint8Array(bytes.subarray(offset, end));
  if (!hostIsLittleEndian) {
    const swapped = Buffer.from(copy.buffer, 0, copy.length);
    if (size === 2) swapped.swap16();
    else swapped.swap32();
  }
  return copy.buffer;
}

let halfValues: Float32Array | undefined;

/** Every float16 bit pattern's float32 value, built once: a table read per weight instead of the arithmetic. */
function halfTable(): Float32Array {
  if (halfValues === undefined) {
    halfValues = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halfValues[h] = halfToFloat(h);
  }
  return halfValues;
}

/** IEEE 754 half -> single, subnormals included (TF.js stores this graph's weights as float16). */
export function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction === 0 ? sign * Number.POSITIVE_INFINITY : Number.NaN;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** A node attribute's string value (base64 in the JSON). */
export function attrString(node: TfNode, key: string): string | undefined {
  const s = node.attr?.[key]?.s;
  return s === undefined ? undefined : Buffer.from(s, 'base64').toString('utf8');
}

export function attrStrings(node: TfNode, key: string): string[] {
  return (node.attr?.[key]?.list?.s ?? []).map((s) => Buffer.from(s, 'base64').toString('utf8'));
}

export function attrInts(node: TfNode, key: string): number[] {
  return (node.attr?.[key]?.list?.i ?? []).map((i) => Number.parseInt(i, 10));
}
