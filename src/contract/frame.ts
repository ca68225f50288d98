import { FORMAT_SPECS, type PixelFormat } from './pixel-format.js';

/**
 * A decoded image as processors see it. Rows are addressed as `offset + y * stride` so that bottom-up BMP and
 * padded raw rows are served in place (stride may be negative). `width`/`height` are the decoded size; a decoder
 * may reduce a large JPEG when the processor allows it (see `FrameRequirements.maxReduction`), in which case
 * `sourceWidth`/`sourceHeight` are the size of the image the client sent: boxes are normalised, so either works.
 */
export interface Frame {
  width: number;
  height: number;
  format: PixelFormat;
  data: Uint8Array;
  /** Byte index of row 0. */
  offset: number;
  /** Bytes from one row to the next (negative for bottom-up storage). */
  stride: number;
  /** yuv420p only: where the U and V planes start and their row stride. */
  chroma?: { uOffset: number; vOffset: number; stride: number };
  sourceWidth: number;
  sourceHeight: number;
}

/** What a processor needs from the decoder. */
export interface FrameRequirements {
  /**
   * The processor works as well on a reduced image (e.g. a mean): the decoder may use JPEG DCT scaling to decode at
   * 1/2, 1/4 or 1/8 size, never below `minReducedPixels` pixels. 1 (the default) means full size.
   */
  maxReduction?: 1 | 2 | 4 | 8;
  minReducedPixels?: number;
  /**
   * The processor reads only ITU-R BT.601 luma: a decoder may deliver a gray8 frame (a JPEG's Y channel, which is
   * that luma), skipping the colour planes' transform and conversion.
   */
  lumaOnly?: boolean;
}

/** Where a decoder's rows lie, when not tightly packed from byte 0, and the size the client sent, when reduced. */
export interface FrameLayout {
  offset?: number;
  stride?: number;
  chroma?: Frame['chroma'];
  sourceWidth?: number;
  sourceHeight?: number;
}

/**
 * The one way a decoder builds a Frame: rows tightly packed from byte 0 unless `layout` says otherwise, a Node
 * Buffer viewed as a plain Uint8Array (what crosses to the main thread), the source size the decoded size by default.
 */
export function frameOf(
  data: Uint8Array,
  width: number,
  height: number,
  format: PixelFormat,
  layout: FrameLayout = {},
): Frame {
  const frame: Frame = {
    width,
    height,
    format,
    data: Buffer.isBuffer(data) ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : data,
    offset: layout.offset ?? 0,
    stride: layout.stride ?? width * FORMAT_SPECS[format].bytesPerPixel,
    sourceWidth: layout.sourceWidth ?? width,
    sourceHeight: layout.sourceHeight ?? height,
  };
  if (layout.chroma !== undefined) frame.chroma = layout.chroma;
  return frame;
}

/** Writes row `y` of `frame` as RGB triplets into `out` (length >= width*3). */
export function readRowRgb(frame: Frame, y: number, out: Uint8Array): void {
  const spec = FORMAT_SPECS[frame.format];
  const { data, width } = frame;
  const start = frame.offset + y * frame.stride;
  switch (spec.kind) {
    case 'packed': {
      const { bytesPerPixel: n, r, g, b } = spec;
      for (let x = 0, i = start, o = 0; x < width; x++, i += n, o += 3) {
        out[o] = data[i + r]!;
        out[o + 1] = data[i + g]!;
        out[o + 2] = data[i + b]!;
      }
      return;
    }
    case 'packed16': {
      const six = spec.greenBits === 6;
      const hi = spec.bigEndian ? 0 : 1;
      const lo = 1 - hi;
      for (let x = 0, i = start, o = 0; x < width; x++, i += 2, o += 3) {
        const v = (data[i + hi]! << 8) | data[i + lo]!;
        const r5 = six ? v >> 11 : (v >> 10) & 0x1f;
        const g = six ? (v >> 5) & 0x3f : (v >> 5) & 0x1f;
        const b5 = v & 0x1f;
        out[o] = (r5 << 3) | (r5 >> 2);
        out[o + 1] = six ? (g << 2) | (g >> 4) : (g << 3) | (g >> 2);
        out[o + 2] = (b5 << 3) | (b5 >> 2);
      }
      return;
    }
    case 'yuv420p': {
      const chroma = frame.chroma!;
      const cRow = (y >> 1) * chroma.stride;
      for (let x = 0, o = 0; x < width; x++, o += 3) {
        // BT.601 limited range ("TV" levels), what ffmpeg/GStreamer produce for yuv420p by default.
        const c = 1.164383 * (data[start + x]! - 16);
        const d = data[chroma.uOffset + cRow + (x >> 1)]! - 128;
        const e = data[chroma.vOffset + cRow + (x >> 1)]! - 128;
        out[o] = clampByte(c + 1.596027 * e);
        out[o + 1] = clampByte(c - 0.391762 * d - 0.812968 * e);
        out[o + 2] = clampByte(c + 2.017232 * d);
      }
      return;
    }
  }
}

function clampByte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

/** The whole frame as tightly packed RGB (a copy; processors that need plain RGB call this once). */
export function toRgb24(frame: Frame): Uint8Array {
  const out = new Uint8Array(frame.width * frame.height * 3);
  const rowBytes = frame.width * 3;
  if (frame.format === 'rgb24') {
    // Already RGB (what the JPEG and PNG decoders deliver): row copies, whatever the stride.
    for (let y = 0; y < frame.height; y++) {
      const start = frame.offset + y * frame.stride;
      out.set(frame.data.subarray(start, start + rowBytes), y * rowBytes);
    }
    return out;
  }
  for (let y = 0; y < frame.height; y++) readRowRgb(frame, y, out.subarray(y * rowBytes, (y + 1) * rowBytes));
  return out;
}

/** ITU-R BT.601 luma of an RGB triplet. */
export function luma601(r: number, g: number, b: number): number {
  return 0.299 * r + 0.587 * g + 0.114 * b;
}
