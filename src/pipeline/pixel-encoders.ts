import { FORMAT_SPECS, type RawFormat, rawFrameBytes } from '../contract/pixel-format.js';

/**
 * Encoders from tightly packed RGB24 to what pipelines send: raw frames in the 11 pixel formats and BMP. Used by the
 * pipeline runner (what the vendor's HTTP extension node sent) and by tests (known pixels in every format).
 */

/** RGB24 -> one of the 11 raw formats, rows of `width x bytes per pixel` (yuv420p: BT.601 limited range, I420). */
export function encodeRaw(rgb: Uint8Array, width: number, height: number, format: RawFormat): Uint8Array {
  const out = new Uint8Array(rawFrameBytes(format, width, height));
  const spec = FORMAT_SPECS[format];
  const pixels = width * height;
  switch (spec.kind) {
    case 'packed': {
      const n = spec.bytesPerPixel;
      // The byte of a 32-bit pixel that is neither R, G nor B is alpha: opaque.
      const alpha = n === 4 ? [0, 1, 2, 3].find((i) => i !== spec.r && i !== spec.g && i !== spec.b)! : -1;
      for (let p = 0, i = 0, o = 0; p < pixels; p++, i += 3, o += n) {
        out[o + spec.r] = rgb[i]!;
        out[o + spec.g] = rgb[i + 1]!;
        out[o + spec.b] = rgb[i + 2]!;
        if (alpha >= 0) out[o + alpha] = 255;
      }
      return out;
    }
    case 'packed16': {
      const six = spec.greenBits === 6;
      for (let p = 0, i = 0, o = 0; p < pixels; p++, i += 3, o += 2) {
        const r = rgb[i]! >> 3;
        const g = six ? rgb[i + 1]! >> 2 : rgb[i + 1]! >> 3;
        const b = rgb[i + 2]! >> 3;
        const v = six ? (r << 11) | (g << 5) | b : (r << 10) | (g << 5) | b;
        out[o + (spec.bigEndian ? 0 : 1)] = v >> 8;
        out[o + (spec.bigEndian ? 1 : 0)] = v & 0xff;
      }
      return out;
    }
    case 'yuv420p': {
      const cw = Math.ceil(width / 2);
      const ch = Math.ceil(height / 2);
      const uBase = width * height;
      const vBase = uBase + cw * ch;
      for (let y = 0; y < height; y++) {
        for (let x = 0; x < width; x++) {
          const i = (y * width + x) * 3;
          out[y * width + x] = clamp(16 + 0.256788 * rgb[i]! + 0.504129 * rgb[i + 1]! + 0.097906 * rgb[i + 2]!);
        }
      }
      // Chroma: the mean of each 2x2 block (edge blocks may be 1 pixel wide or tall).
      for (let cy = 0; cy < ch; cy++) {
        for (let cx = 0; cx < cw; cx++) {
          let r = 0;
          let g = 0;
          let b = 0;
          let n = 0;
          for (let dy = 0; dy < 2; dy++) {
            for (let dx = 0; dx < 2; dx++) {
              const x = cx * 2 + dx;
              const y = cy * 2 + dy;
              if (x >= width || y >= height) continue;
              const i = (y * width + x) * 3;
              r += rgb[i]!;
              g += rgb[i + 1]!;
              b += rgb[i + 2]!;
              n++;
            }
          }
          r /= n;
          g /= n;
          b /= n;
          out[uBase + cy * cw + cx] = clamp(128 - 0.148223 * r - 0.290993 * g + 0.439216 * b);
          out[vBase + cy * cw + cx] = clamp(128 + 0.439216 * r - 0.367788 * g - 0.071427 * b);
        }
      }
      return out;
    }
  }
}

function clamp(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.round(v);
}

export interface BmpOptions {
  /** 24 (what pipelines send), 32 (BGRX), 16 (RGB555) or 8 (palette; at most 256 distinct colours). */
  bitsPerPixel?: 8 | 16 | 24 | 32;
  /** Rows stored top row first (negative height); the default is the usual bottom-up. */
  topDown?: boolean;
}

/** RGB24 -> a Windows BMP file (BITMAPINFOHEADER, uncompressed). */
export function encodeBmp(rgb: Uint8Array, width: number, height: number, options: BmpOptions = {}): Uint8Array {
  const bpp = options.bitsPerPixel ?? 24;
  const rowBytes = Math.floor((bpp * width + 31) / 32) * 4;
  let palette: Map<number, number> | undefined;
  if (bpp === 8) {
    palette = new Map();
    for (let i = 0; i < rgb.length; i += 3) {
      const key = (rgb[i]! << 16) | (rgb[i + 1]! << 8) | rgb[i + 2]!;
      if (!palette.has(key)) palette.set(key, palette.size);
      if (palette.size > 256) throw new Error('encodeBmp: an 8-bit BMP holds at most 256 colours');
    }
  }
  const paletteBytes = palette ? 256 * 4 : 0;
  const pixelOffset = 14 + 40 + paletteBytes;
  const size = pixelOffset + rowBytes * height;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  out[0] = 0x42;
  out[1] = 0x4d;
  view.setUint32(2, size, true);
  view.setUint32(10, pixelOffset, true);
  view.setUint32(14, 40, true);
  view.setInt32(18, width, true);
  view.setInt32(22, options.topDown ? -height : height, true);
  view.setUint16(26, 1, true);
  view.setUint16(28, bpp, true);
  view.setUint32(30, 0, true);
  view.setUint32(34, rowBytes * height, true);
  view.setInt32(38, 2835, true); // 72 dpi
  view.setInt32(42, 2835, true);
  view.setUint32(46, palette ? 256 : 0, true);
  if (palette) {
    for (const [key, index] of palette) {
      const p = 54 + index * 4;
      out[p] = key & 0xff;
      out[p + 1] = (key >> 8) & 0xff;
      out[p + 2] = key >> 16;
    }
  }
  for (let y = 0; y < height; y++) {
    const row = pixelOffset + (options.topDown ? y : height - 1 - y) * rowBytes;
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const r = rgb[i]!;
      const g = rgb[i + 1]!;
      const b = rgb[i + 2]!;
      switch (bpp) {
        case 24:
        case 32: {
          const o = row + x * (bpp / 8);
          out[o] = b;
          out[o + 1] = g;
          out[o + 2] = r;
          if (bpp === 32) out[o + 3] = 255;
          break;
        }
        case 16: {
          const v = ((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3);
          out[row + x * 2] = v & 0xff;
          out[row + x * 2 + 1] = v >> 8;
          break;
        }
        case 8:
          out[row + x] = palette!.get((r << 16) | (g << 8) | b)!;
          break;
      }
    }
  }
  return out;
}
