/**
 * A minimal writer of ONNX models (protobuf): graph inputs and outputs, nodes with int, float, string and list
 * attributes, float32 and int64 initializers. Enough for the tests' tiny models and for converting the shipped
 * CenterNet (scripts/convert-centernet.ts). Field numbers are those of onnx/onnx.proto.
 */

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

class Writer {
  private readonly parts: Uint8Array[] = [];

  varint(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.rawVarint(BigInt(value));
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.rawVarint(BigInt(value.byteLength));
    this.parts.push(value);
    return this;
  }

  /** A float field (wire type 5, little-endian IEEE 754 single). */
  fixed32Float(field: number, value: number): this {
    this.tag(field, WIRE_FIXED32);
    const bytes = new Uint8Array(4);
    new DataView(bytes.buffer).setFloat32(0, value, true);
    this.parts.push(bytes);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, build: (w: Writer) => void): this {
    const inner = new Writer();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  finish(): Uint8Array {
    const total = this.parts.reduce((n, p) => n + p.byteLength, 0);
    const out = new Uint8Array(total);
    let offset = 0;
    for (const part of this.parts) {
      out.set(part, offset);
      offset += part.byteLength;
    }
    return out;
  }

  private tag(field: number, wire: number): void {
    this.rawVarint(BigInt((field << 3) | wire));
  }

  private rawVarint(value: bigint): void {
    // int64 fields: negative values are written as 10-byte two's complement.
    let v = value < 0n ? value + (1n << 64n) : value;
    const bytes: number[] = [];
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v > 0n) byte |= 0x80;
      bytes.push(byte);
    } while (v > 0n);
    this.parts.push(Uint8Array.from(bytes));
  }
}

const FLOAT = 1;
const UINT8 = 2;
const INT64 = 7;

export interface ValueInfo {
  name: string;
  /** Dimension sizes; a string is a symbolic dimension. */
  shape: Array<number | string>;
  elemType?: 'float32' | 'uint8';
}

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  /** Node name; `<op>_<index>` when omitted. */
  name?: string;
  /** Integer-list attributes (e.g. strides, pads), integer, float and string attributes. */
  ints?: Record<string, number[]>;
  int?: Record<string, number>;
  float?: Record<string, number>;
  string?: Record<string, string>;
}

export interface ConstantSpec {
  name: string;
  dims: number[];
  values: Float32Array | number[] | BigInt64Array;
  /** float32 unless said. */
  dtype?: 'float32' | 'int64';
}

export interface ModelSpec {
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  nodes: NodeSpec[];
  constants?: ConstantSpec[];
  /** Default opset 13. */
  opset?: number;
  producer?: string;
  /** Free-text documentation kept in the file (where the weights came from). */
  docString?: string;
}

function valueInfo(w: Writer, info: ValueInfo): void {
  w.string(1, info.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.varint(1, info.elemType === 'uint8' ? UINT8 : FLOAT);
      tensor.message(2, (shape) => {
        for (const dim of info.shape) {
          shape.message(1, (d) => (typeof dim === 'number' ? d.varint(1, dim) : d.string(2, dim)));
        }
      });
    }),
  );
}

// AttributeProto.AttributeType values.
const ATTR_FLOAT = 1;
const ATTR_INT = 2;
const ATTR_STRING = 3;
const ATTR_INTS = 7;

function attributes(n: Writer, node: NodeSpec): void {
  for (const [name, values] of Object.entries(node.ints ?? {})) {
    n.message(5, (a) => {
      a.string(1, name);
      for (const v of values) a.varint(8, v);
      a.varint(20, ATTR_INTS);
    });
  }
  for (const [name, value] of Object.entries(node.int ?? {})) {
    n.message(5, (a) => a.string(1, name).varint(3, value).varint(20, ATTR_INT));
  }
  for (const [name, value] of Object.entries(node.float ?? {})) {
    n.message(5, (a) => a.string(1, name).fixed32Float(2, value).varint(20, ATTR_FLOAT));
  }
  for (const [name, value] of Object.entries(node.string ?? {})) {
    n.message(5, (a) => a.string(1, name).string(4, value).varint(20, ATTR_STRING));
  }
}

function rawBytes(constant: ConstantSpec): Uint8Array {
  const values =
    constant.dtype === 'int64'
      ? constant.values instanceof BigInt64Array
        ? constant.values
        : BigInt64Array.from(Array.from(constant.values as ArrayLike<number>, (v) => BigInt(v)))
      : constant.values instanceof Float32Array
        ? constant.values
        : Float32Array.from(constant.values as ArrayLike<number>);
  // ONNX raw_data is little-endian, as are the typed arrays on every platform Node supports.
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** Encodes a model: graph inputs/outputs, nodes, initializers. */
export function buildOnnxModel(spec: ModelSpec): Uint8Array {
  const model = new Writer();
  model.varint(1, 8); // ir_version
  model.string(2, spec.producer ?? 'httpextension-tests');
  if (spec.docString !== undefined) model.string(6, spec.docString);
  model.message(7, (graph) => {
    spec.nodes.forEach((node, index) => {
      graph.message(1, (n) => {
        for (const input of node.inputs) n.string(1, input);
        for (const output of node.outputs) n.string(2, output);
        n.string(3, node.name ?? `${node.op}_${index}`);
        n.string(4, node.op);
        attributes(n, node);
      });
    });
    graph.string(2, 'main');
    for (const constant of spec.constants ?? []) {
      graph.message(5, (t) => {
        for (const d of constant.dims) t.varint(1, d);
        t.varint(2, constant.dtype === 'int64' ? INT64 : FLOAT);
        t.string(8, constant.name);
        t.bytes(9, rawBytes(constant));
      });
    }
    for (const input of spec.inputs) graph.message(11, (w) => valueInfo(w, input));
    for (const output of spec.outputs) graph.message(12, (w) => valueInfo(w, output));
  });
  model.message(8, (opset) => opset.varint(2, spec.opset ?? 13));
  return model.finish();
}
