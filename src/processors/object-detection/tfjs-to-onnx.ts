import type { ConstantSpec, ModelSpec, NodeSpec } from '../../vision/onnx-writer.js';
import { attrInts, attrString, attrStrings, type TfGraph, type TfNode, type TfWeight } from './tfjs-graph.js';

/** Where an NHWC axis lands in NCHW. */
const NCHW_POSITION = [0, 2, 3, 1];

export interface ConversionRequest {
  /** TF tensor name -> ONNX output name, e.g. `tower_0/keypoints` -> `keypoints`. */
  outputs: Record<string, string>;
  /** The ONNX input name (the graph has one image input). */
  inputName: string;
  producer: string;
  docString: string;
}

/**
 * Converts the part of a TF.js graph model that computes `outputs` into an ONNX graph (opset 18), op by op and
 * without TensorFlow: convolutions (plain, depthwise, fused with BiasAdd and Relu/Relu6), element-wise Add/Mul/Sub,
 * Relu, Relu6, Sigmoid, Mean, ConcatV2 and ResizeBilinear, which is what the shipped CenterNet's network is made of.
 * Activations are NCHW, so ONNX Runtime's CPU kernels run without layout transposes; the one input is NCHW too and the
 * outputs are NCHW (channels first: one 128x128 heat-map plane per class). Nodes the outputs do not depend on (the
 * graph's own top-100 decoding) are left out. Anything else fails loudly, naming the op.
 */
export function tfjsToOnnx(graph: TfGraph, request: ConversionRequest): ModelSpec {
  const nodes: NodeSpec[] = [];
  const constants: ConstantSpec[] = [];
  const constantNames = new Set<string>();
  /** TF tensor name -> ONNX tensor name. */
  const emitted = new Map<string, string>();
  const input = graph.inputs[0];
  if (input === undefined || graph.inputs.length !== 1) throw new Error('the graph must have exactly one input');
  const [n, h, w, c] = input.shape;

  function addConstant(spec: ConstantSpec): string {
    if (!constantNames.has(spec.name)) {
      constantNames.add(spec.name);
      constants.push(spec);
    }
    return spec.name;
  }

  function weightOf(name: string): TfWeight {
    const weight = graph.weights.get(tensorName(name));
    if (weight === undefined) throw new Error(`${name}: expected a constant (weight)`);
    return weight;
  }

  function isConstant(name: string): boolean {
    return graph.nodes.get(tensorName(name))?.op === 'Const';
  }

  /** The ONNX name of a TF tensor, converting the nodes it depends on first. */
  function tensor(name: string): string {
    const key = name.endsWith(':0') ? name.slice(0, -2) : name;
    const done = emitted.get(key);
    if (done !== undefined) return done;
    const node = graph.nodes.get(tensorName(key));
    if (node === undefined) throw new Error(`tensor ${name} is not in the graph`);
    if (key.includes(':')) throw new Error(`${node.op} ${node.name}: only first outputs are supported (${key})`);
    const out = convert(node);
    emitted.set(key, out);
    return out;
  }

  function emit(node: TfNode, op: string, inputs: string[], attrs: Omit<NodeSpec, 'op' | 'inputs' | 'outputs'> = {}) {
    const output = node.name;
    nodes.push({ op, inputs, outputs: [output], name: node.name, ...attrs });
    return output;
  }

  /** A constant operand of an element-wise op, laid out to broadcast against NCHW activations. */
  function broadcastConstant(name: string): string {
    const weight = weightOf(name);
    const size = weight.shape.reduce((a, d) => a * d, 1);
    if (size === 1) return addConstant({ name: `${tensorName(name)}__scalar`, dims: [], values: [weight.data[0]!] });
    if (weight.shape.length > 4) throw new Error(`${name}: broadcast constants above rank 4 are not supported`);
    const nhwc = [...Array(4 - weight.shape.length).fill(1), ...weight.shape] as number[];
    const values = transpose4(asFloat32(weight.data), nhwc, [0, 3, 1, 2]);
    return addConstant({ name: `${tensorName(name)}__nchw`, dims: [nhwc[0]!, nhwc[3]!, nhwc[1]!, nhwc[2]!], values });
  }

  function operand(name: string): string {
    return isConstant(name) ? broadcastConstant(name) : tensor(name);
  }

  function clipBounds(): [string, string] {
    return [
      addConstant({ name: 'relu6__min', dims: [], values: [0] }),
      addConstant({ name: 'relu6__max', dims: [], values: [6] }),
    ];
  }

  function convolution(node: TfNode, depthwise: boolean, fused: string[]): string {
    const [x, filterName, biasName] = dataInputs(node);
    const filter = weightOf(filterName!);
    const [kh, kw, ci, co] = filter.shape as [number, number, number, number];
    // TF filters are HWIO (depthwise: H, W, C, multiplier); ONNX wants OIHW (depthwise: C x multiplier, 1, H, W).
    const oihw = transpose4(asFloat32(filter.data), [kh, kw, ci, co], [3, 2, 0, 1]);
    const dims = depthwise ? [ci * co, 1, kh, kw] : [co, ci, kh, kw];
    const weights = addConstant({
      name: `${tensorName(filterName!)}__oihw`,
      dims,
      values: depthwise ? depthwiseOrder(oihw, ci, co, kh * kw) : oihw,
    });
    const inputs = [tensor(x!), weights];
    const ops = [...fused];
    if (ops[0] === 'BiasAdd') {
      ops.shift();
      const bias = weightOf(biasName!);
      inputs.push(
        addConstant({ name: tensorName(biasName!), dims: [bias.data.length], values: Float32Array.from(bias.data) }),
      );
    }
    const strides = attrInts(node, 'strides');
    const dilations = attrInts(node, 'dilations');
    const padding = attrString(node, 'padding');
    if (padding !== 'SAME' && padding !== 'VALID') throw new Error(`${node.name}: padding ${padding} is not supported`);
    if (attrString(node, 'data_format') !== 'NHWC') throw new Error(`${node.name}: only NHWC convolutions`);
    const convName = ops.length === 0 ? node.name : `${node.name}__conv`;
    nodes.push({
      op: 'Conv',
      inputs,
      outputs: [convName],
      name: convName,
      ints: {
        kernel_shape: [kh, kw],
        strides: [strides[1] ?? 1, strides[2] ?? 1],
        dilations: [dilations[1] ?? 1, dilations[2] ?? 1],
      },
      int: { group: depthwise ? ci : 1 },
      // TF's SAME puts the odd padding pixel at the end, as ONNX's SAME_UPPER does.
      string: { auto_pad: padding === 'SAME' ? 'SAME_UPPER' : 'VALID' },
    });
    if (ops.length === 0) return convName;
    if (ops.length > 1) throw new Error(`${node.name}: fused ops ${fused.join('+')} are not supported`);
    if (ops[0] === 'Relu') return emit(node, 'Relu', [convName]);
    if (ops[0] === 'Relu6') return emit(node, 'Clip', [convName, ...clipBounds()]);
    throw new Error(`${node.name}: fused op ${ops[0]} is not supported`);
  }

  function convert(node: TfNode): string {
    const inputs = dataInputs(node);
    switch (node.op) {
      case 'Placeholder':
        return request.inputName;
      case 'Identity':
        return tensor(inputs[0]!);
      case 'Conv2D':
        return convolution(node, false, []);
      case '_FusedConv2D':
        return convolution(node, false, attrStrings(node, 'fused_ops'));
      case 'DepthwiseConv2dNative':
        return convolution(node, true, []);
      case 'FusedDepthwiseConv2dNative':
        return convolution(node, true, attrStrings(node, 'fused_ops'));
      case 'Add':
      case 'AddV2':
        return emit(node, 'Add', inputs.map(operand));
      case 'Mul':
        return emit(node, 'Mul', inputs.map(operand));
      case 'Sub':
        return emit(node, 'Sub', inputs.map(operand));
      case 'Relu':
        return emit(node, 'Relu', [tensor(inputs[0]!)]);
      case 'Sigmoid':
        return emit(node, 'Sigmoid', [tensor(inputs[0]!)]);
      case 'Relu6':
        return emit(node, 'Clip', [tensor(inputs[0]!), ...clipBounds()]);
      case 'Mean': {
        const axes = Array.from(weightOf(inputs[1]!).data, (a) => NCHW_POSITION[a]!);
        const axesName = addConstant({ name: `${node.name}__axes`, dims: [axes.length], values: axes, dtype: 'int64' });
        return emit(node, 'ReduceMean', [tensor(inputs[0]!), axesName], {
          int: { keepdims: node.attr?.keep_dims?.b === true ? 1 : 0 },
        });
      }
      case 'ConcatV2': {
        const axis = weightOf(inputs.at(-1)!).data[0]!;
        return emit(node, 'Concat', inputs.slice(0, -1).map(tensor), { int: { axis: NCHW_POSITION[axis]! } });
      }
      case 'ResizeBilinear': {
        const size = Array.from(weightOf(inputs[1]!).data);
        const sizes = addConstant({ name: `${node.name}__sizes`, dims: [2], values: size, dtype: 'int64' });
        const alignCorners = node.attr?.align_corners?.b === true;
        const halfPixel = node.attr?.half_pixel_centers?.b === true;
        // TF's default (neither flag) samples at dst * in / out: ONNX's `asymmetric`.
        const mode = alignCorners ? 'align_corners' : halfPixel ? 'half_pixel' : 'asymmetric';
        return emit(node, 'Resize', [tensor(inputs[0]!), '', '', sizes], {
          ints: { axes: [2, 3] },
          string: { mode: 'linear', coordinate_transformation_mode: mode },
        });
      }
      default:
        throw new Error(`${node.op} (${node.name}) is not supported by the converter`);
    }
  }

  const outputs = Object.entries(request.outputs).map(([tfName, onnxName]) => {
    nodes.push({ op: 'Identity', inputs: [tensor(tfName)], outputs: [onnxName], name: `${onnxName}__out` });
    return onnxName;
  });
  return {
    inputs: [{ name: request.inputName, shape: [n!, c!, h!, w!] }],
    outputs: outputs.map((name) => ({ name, shape: ['batch', 'channels', 'height', 'width'] })),
    nodes,
    constants,
    opset: 18,
    producer: request.producer,
    docString: request.docString,
  };
}

/** `node:1` -> `node`; control inputs (`^node`) are dropped by dataInputs. */
function tensorName(name: string): string {
  const colon = name.indexOf(':');
  return colon === -1 ? name : name.slice(0, colon);
}

function dataInputs(node: TfNode): string[] {
  return (node.input ?? []).filter((name) => !name.startsWith('^'));
}

/** The weight as float32, without a copy when it already is one (transpose4 only reads it). */
function asFloat32(data: Float32Array | Int32Array): Float32Array {
  return data instanceof Float32Array ? data : Float32Array.from(data);
}

/** Transposes a dense 4-D array: `perm[i]` is the source axis of output axis i. */
function transpose4(data: Float32Array, dims: number[], perm: number[]): Float32Array {
  const [d0, d1, d2, d3] = dims as [number, number, number, number];
  if (d0 * d1 * d2 * d3 !== data.length) throw new Error('transpose4: dims do not match the data');
  const strides = [d1 * d2 * d3, d2 * d3, d3, 1];
  const outDims = perm.map((p) => dims[p]!);
  const [o0, o1, o2, o3] = outDims as [number, number, number, number];
  const [s0, s1, s2, s3] = perm.map((p) => strides[p]!) as [number, number, number, number];
  const out = new Float32Array(data.length);
  // Source offsets advance by stride sums: no index multiplication per element.
  let k = 0;
  for (let a = 0, ia = 0; a < o0; a++, ia += s0)
    for (let b = 0, ib = ia; b < o1; b++, ib += s1)
      for (let c = 0, ic = ib; c < o2; c++, ic += s2)
        for (let d = 0, id = ic; d < o3; d++, id += s3) out[k++] = data[id]!;
  return out;
}

/**
 * A depthwise filter transposed to [multiplier, C, H*W] -> ONNX's grouped order [C * multiplier, 1, H, W]: TF numbers
 * the output channels channel-major (c * multiplier + m).
 */
function depthwiseOrder(oihw: Float32Array, channels: number, multiplier: number, area: number): Float32Array {
  if (multiplier === 1) return oihw;
  const out = new Float32Array(oihw.length);
  for (let m = 0; m < multiplier; m++)
    for (let ch = 0; ch < channels; ch++)
      out.set(oihw.subarray((m * channels + ch) * area, (m * channels + ch + 1) * area), (ch * multiplier + m) * area);
  return out;
}
