/**
 * RLE8/RLE4 BMP encoders for tests (no library writes them): `encodeRle` turns palette indexes into a stream of
 * encoded runs, absolute (literal) runs, end-of-line and end-of-bitmap codes, as Windows' encoder does; `rleBmp`
 * wraps any stream, well-formed or hostile, in a BITMAPINFOHEADER file.
 */

/** Indexes, one per pixel, top row first -> an RLE stream for `bpp` 8 or 4 (rows stored bottom-up unless topDown). */
export function encodeRle(
  indices: ArrayLike<number>,
  width: number,
  height: number,
  bpp: 4 | 8,
  topDown = false,
): Uint8Array {
  const out: number[] = [];
  for (let s = 0; s < height; s++) {
    const y = topDown ? s : height - 1 - s;
    const row = Array.from({ length: width }, (_, x) => indices[y * width + x]!);
    let x = 0;
    while (x < width) {
      let run = 1;
      while (x + run < width && run < 255 && row[x + run] === row[x]) run++;
      if (run >= 3 || width - x < 3) {
        out.push(run, bpp === 8 ? row[x]! : (row[x]! << 4) | row[x]!);
        x += run;
        continue;
      }
      // A literal run up to the next stretch of 3 equal pixels (at least 3 long: 0, 1 and 2 are escape codes).
      let n = 3;
      while (x + n < width && n < 255 && !(row[x + n] === row[x + n + 1] && row[x + n] === row[x + n + 2])) n++;
      const literal = row.slice(x, x + n);
      const bytes =
        bpp === 8
          ? literal
          : Array.from({ length: (n + 1) >> 1 }, (_, i) => (literal[2 * i]! << 4) | (literal[2 * i + 1] ?? 0));
      out.push(0, n, ...bytes);
      if (bytes.length & 1) out.push(0);
      x += n;
    }
    out.push(0, s === height - 1 ? 1 : 0);
  }
  return Uint8Array.from(out);
}

export interface RleBmpSpec {
  width: number;
  height: number;
  bpp: 4 | 8;
  /** RGB triplets. */
  palette: ArrayLike<number>;
  stream: ArrayLike<number>;
  topDown?: boolean;
}

/** A BITMAPINFOHEADER BMP with BI_RLE8 (bpp 8) or BI_RLE4 (bpp 4) compression around `stream`, as given. */
export function rleBmp(spec: RleBmpSpec): Uint8Array {
  const colours = spec.palette.length / 3;
  const pixelOffset = 14 + 40 + colours * 4;
  const out = new Uint8Array(pixelOffset + spec.stream.length);
  const view = new DataView(out.buffer);
  out[0] = 0x42;
  out[1] = 0x4d;
  view.setUint32(2, out.length, true);
  view.setUint32(10, pixelOffset, true);
  view.setUint32(14, 40, true);
  view.setInt32(18, spec.width, true);
  view.setInt32(22, spec.topDown ? -spec.height : spec.height, true);
  view.setUint16(26, 1, true);
  view.setUint16(28, spec.bpp, true);
  view.setUint32(30, spec.bpp === 8 ? 1 : 2, true);
  view.setUint32(34, spec.stream.length, true);
  view.setUint32(46, colours, true);
  for (let i = 0; i < colours; i++) {
    out[54 + i * 4] = spec.palette[i * 3 + 2]!;
    out[54 + i * 4 + 1] = spec.palette[i * 3 + 1]!;
    out[54 + i * 4 + 2] = spec.palette[i * 3]!;
  }
  out.set(Array.from(spec.stream), pixelOffset);
  return out;
}
