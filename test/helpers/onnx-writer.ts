/**
 * A minimal writer of ONNX models (protobuf), enough to build tiny test models whose outputs are known: constant
 * tensors, Identity and ReduceMean nodes. Field numbers are those of onnx/onnx.proto (IR version 8, opset 13).
 */

const WIRE_VARINT = 0;
const WIRE_LEN = 2;

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
  /** Integer-list attributes (e.g. ReduceMean axes) and integer attributes (keepdims). */
  ints?: Record<string, number[]>;
  int?: Record<string, number>;
}

export interface ConstantSpec {
  name: string;
  dims: number[];
  values: Float32Array | number[];
}

export interface ModelSpec {
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  nodes: NodeSpec[];
  constants?: ConstantSpec[];
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

/** Encodes a model: graph inputs/outputs, nodes, constant initializers (float32). */
export function buildOnnxModel(spec: ModelSpec): Uint8Array {
  const model = new Writer();
  model.varint(1, 8); // ir_version
  model.string(2, 'httpextension-tests');
  model.message(7, (graph) => {
    spec.nodes.forEach((node, index) => {
      graph.message(1, (n) => {
        for (const input of node.inputs) n.string(1, input);
        for (const output of node.outputs) n.string(2, output);
        n.string(3, `${node.op}_${index}`);
        n.string(4, node.op);
        for (const [name, values] of Object.entries(node.ints ?? {})) {
          n.message(5, (a) => {
            a.string(1, name);
            for (const v of values) a.varint(8, v);
            a.varint(20, 7); // INTS
          });
        }
        for (const [name, value] of Object.entries(node.int ?? {})) {
          n.message(5, (a) => {
            a.string(1, name);
            a.varint(3, value);
            a.varint(20, 2); // INT
          });
        }
      });
    });
    graph.string(2, 'test');
    for (const constant of spec.constants ?? []) {
      graph.message(5, (t) => {
        for (const d of constant.dims) t.varint(1, d);
        t.varint(2, FLOAT);
        t.string(8, constant.name);
        const values = Float32Array.from(constant.values);
        t.bytes(9, new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
      });
    }
    for (const input of spec.inputs) graph.message(11, (w) => valueInfo(w, input));
    for (const output of spec.outputs) graph.message(12, (w) => valueInfo(w, output));
  });
  model.message(8, (opset) => opset.varint(2, 13));
  return model.finish();
}
