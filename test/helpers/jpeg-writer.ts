/**
 * A minimal baseline JPEG writer for tests. sharp (libvips) only writes 4:4:4 and 4:2:0; cameras and pipelines also
 * send 4:2:2, 4:4:0 and 4:1:1, and restart markers. This writer takes any sampling factors per component so every
 * layout a decoder must handle can be generated from known pixels. Huffman tables are plain fixed-length codes (every
 * symbol 4 or 8 bits), valid per ITU-T T.81 Annex C and simpler to verify than the Annex K tables.
 */
export interface JpegComponentSpec {
  /** Full-resolution samples, width x height (the writer subsamples by averaging). */
  samples: Uint8Array;
  h: 1 | 2 | 4;
  v: 1 | 2 | 4;
}

export interface JpegSpec {
  width: number;
  height: number;
  components: JpegComponentSpec[];
  /** Every quantisation step (1 = finest). */
  quant?: number;
  /** MCUs between restart markers (0 = none). */
  restartInterval?: number;
}

const ZIGZAG = [
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
  35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47,
  55, 62, 63,
];

/** DC symbols 0..11 as 4-bit codes; AC symbols (EOB, ZRL, run/size for sizes 1..10) as 8-bit codes. */
const DC_SYMBOLS = Array.from({ length: 12 }, (_, i) => i);
const AC_SYMBOLS = [0x00, 0xf0];
for (let run = 0; run < 16; run++) for (let size = 1; size <= 10; size++) AC_SYMBOLS.push((run << 4) | size);

const COS = Array.from({ length: 64 }, (_, i) => Math.cos(((2 * (i >> 3) + 1) * (i & 7) * Math.PI) / 16));

export function writeJpeg(spec: JpegSpec): Uint8Array {
  const { width, height, components } = spec;
  const quant = spec.quant ?? 1;
  const restart = spec.restartInterval ?? 0;
  const hMax = Math.max(...components.map((c) => c.h));
  const vMax = Math.max(...components.map((c) => c.v));
  const mcusX = Math.ceil(width / (8 * hMax));
  const mcusY = Math.ceil(height / (8 * vMax));
  const planes = components.map((c) => subsample(c, width, height, hMax, vMax));

  const out: number[] = [0xff, 0xd8];
  const segment = (marker: number, body: number[]): void => {
    out.push(0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 0xff, ...body);
  };
  segment(0xdb, [0, ...new Array<number>(64).fill(quant)]);
  const sof = [8, height >> 8, height & 0xff, width >> 8, width & 0xff, components.length];
  components.forEach((c, i) => {
    sof.push(i + 1, (c.h << 4) | c.v, 0);
  });
  segment(0xc0, sof);
  segment(0xc4, huffmanTable(0x00, 4, DC_SYMBOLS));
  segment(0xc4, huffmanTable(0x10, 8, AC_SYMBOLS));
  if (restart > 0) segment(0xdd, [restart >> 8, restart & 0xff]);
  const sos = [components.length];
  for (let i = 0; i < components.length; i++) sos.push(i + 1, 0x00);
  sos.push(0, 63, 0);
  segment(0xda, sos);

  const bits = new BitWriter(out);
  const dcPred = components.map(() => 0);
  const block = new Float64Array(64);
  let mcu = 0;
  for (let my = 0; my < mcusY; my++) {
    for (let mx = 0; mx < mcusX; mx++, mcu++) {
      if (restart > 0 && mcu > 0 && mcu % restart === 0) {
        bits.flush();
        out.push(0xff, 0xd0 + ((((mcu / restart) | 0) - 1) % 8));
        dcPred.fill(0);
      }
      components.forEach((c, ci) => {
        const plane = planes[ci]!;
        for (let by = 0; by < c.v; by++) {
          for (let bx = 0; bx < c.h; bx++) {
            const x0 = (mx * c.h + bx) * 8;
            const y0 = (my * c.v + by) * 8;
            for (let i = 0; i < 64; i++) {
              // Beyond the image, repeat the edge sample (what libjpeg does).
              const x = Math.min(x0 + (i & 7), plane.width - 1);
              const y = Math.min(y0 + (i >> 3), plane.height - 1);
              block[i] = plane.data[y * plane.width + x]! - 128;
            }
            const coefficients = forwardDct(block).map((v) => Math.round(v / quant));
            const diff = coefficients[0]! - dcPred[ci]!;
            dcPred[ci] = coefficients[0]!;
            encodeBlock(bits, diff, coefficients);
          }
        }
      });
    }
  }
  bits.flush();
  out.push(0xff, 0xd9);
  return Uint8Array.from(out);
}

function subsample(c: JpegComponentSpec, width: number, height: number, hMax: number, vMax: number) {
  const fx = hMax / c.h;
  const fy = vMax / c.v;
  const w = Math.ceil(width / fx);
  const h = Math.ceil(height / fy);
  const data = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let sum = 0;
      let n = 0;
      for (let dy = 0; dy < fy; dy++) {
        for (let dx = 0; dx < fx; dx++) {
          const sx = x * fx + dx;
          const sy = y * fy + dy;
          if (sx < width && sy < height) {
            sum += c.samples[sy * width + sx]!;
            n++;
          }
        }
      }
      data[y * w + x] = Math.round(sum / n);
    }
  }
  return { width: w, height: h, data };
}

function forwardDct(block: Float64Array): number[] {
  const out = new Array<number>(64);
  for (let v = 0; v < 8; v++) {
    for (let u = 0; u < 8; u++) {
      let sum = 0;
      for (let y = 0; y < 8; y++) {
        for (let x = 0; x < 8; x++) sum += block[y * 8 + x]! * COS[x * 8 + u]! * COS[y * 8 + v]!;
      }
      const cu = u === 0 ? Math.SQRT1_2 : 1;
      const cv = v === 0 ? Math.SQRT1_2 : 1;
      out[v * 8 + u] = 0.25 * cu * cv * sum;
    }
  }
  return out;
}

function encodeBlock(bits: BitWriter, dcDiff: number, coefficients: number[]): void {
  const dcSize = magnitude(dcDiff);
  bits.write(dcSize, 4);
  bits.writeValue(dcDiff, dcSize);
  let run = 0;
  for (let k = 1; k < 64; k++) {
    const value = coefficients[ZIGZAG[k]!]!;
    if (value === 0) {
      run++;
      continue;
    }
    while (run > 15) {
      bits.write(AC_SYMBOLS.indexOf(0xf0), 8);
      run -= 16;
    }
    const size = magnitude(value);
    bits.write(AC_SYMBOLS.indexOf((run << 4) | size), 8);
    bits.writeValue(value, size);
    run = 0;
  }
  if (run > 0) bits.write(AC_SYMBOLS.indexOf(0x00), 8);
}

function magnitude(value: number): number {
  let size = 0;
  for (let a = Math.abs(value); a > 0; a >>= 1) size++;
  return size;
}

/** DHT body: class/id, 16 counts (all codes of one length), symbols. Codes are then 0, 1, 2... in symbol order. */
function huffmanTable(classAndId: number, length: number, symbols: number[]): number[] {
  const counts = new Array<number>(16).fill(0);
  counts[length - 1] = symbols.length;
  return [classAndId, ...counts, ...symbols];
}

class BitWriter {
  private buffer = 0;
  private count = 0;
  constructor(private readonly out: number[]) {}

  write(code: number, length: number): void {
    for (let i = length - 1; i >= 0; i--) this.bit((code >> i) & 1);
  }

  /** T.81 F.1.2.1: a negative value is sent as value - 1 in `size` bits (its one's complement). */
  writeValue(value: number, size: number): void {
    if (size > 0) this.write(value < 0 ? value + (1 << size) - 1 : value, size);
  }

  /** Pads the last byte with 1 bits (T.81 F.1.2.3). */
  flush(): void {
    while (this.count !== 0) this.bit(1);
  }

  private bit(b: number): void {
    this.buffer = (this.buffer << 1) | b;
    if (++this.count === 8) {
      this.out.push(this.buffer);
      if (this.buffer === 0xff) this.out.push(0); // byte stuffing
      this.buffer = 0;
      this.count = 0;
    }
  }
}
