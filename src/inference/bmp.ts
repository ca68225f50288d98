import { type Frame, frameOf } from '../contract/frame.js';
import type { PixelFormat } from '../contract/pixel-format.js';
import { undecodable } from './decode-error.js';

const BI_RGB = 0;
const BI_RLE8 = 1;
const BI_RLE4 = 2;
const BI_BITFIELDS = 3;
const BI_ALPHABITFIELDS = 6;

/** What the headers of a BMP say, once checked to be something `decodeBmp` decodes. */
export interface BmpHeader {
  width: number;
  height: number;
  topDown: boolean;
  bpp: number;
  compression: number;
  headerSize: number;
  /** The OS/2 core header (12 bytes: 16-bit sizes, 3-byte palette entries). */
  core: boolean;
  pixelOffset: number;
  /** Uncompressed row length, padded to 4 bytes. */
  rowBytes: number;
  /** BI_BITFIELDS only: the R, G and B masks. */
  masks?: readonly [number, number, number];
}

function fail(why: string): never {
  throw undecodable('bmp', why);
}

/**
 * Reads and checks the file and DIB headers without touching the pixels, so that the header probe refuses what the
 * decoder cannot do (before the pixel limit and the queue) and both read the same fields the same way. Decodes what
 * OpenCV decodes: 1/4/8-bit palettes, 16/24/32-bit, RLE8, RLE4 and BI_BITFIELDS at 16 and 32 bits (any contiguous
 * masks), top-down or bottom-up. JPEG and PNG inside a BMP, 2-bit and 64-bit files are refused.
 */
export function readBmpHeader(b: Uint8Array): BmpHeader {
  if (b.length < 26) fail('the header is truncated');
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const pixelOffset = view.getUint32(10, true);
  const headerSize = view.getUint32(14, true);
  const core = headerSize === 12;
  if (!core && headerSize < 40) fail(`unknown DIB header size ${headerSize}`);
  if (b.length < 14 + headerSize) fail('the header is truncated');
  const width = core ? view.getUint16(18, true) : view.getInt32(18, true);
  // The OS/2 core header's height is unsigned (no top-down form); the info header's is signed (negative = top-down).
  const rawHeight = core ? view.getUint16(20, true) : view.getInt32(22, true);
  const bpp = view.getUint16(core ? 24 : 28, true);
  const compression = core ? BI_RGB : view.getUint32(30, true);
  const height = Math.abs(rawHeight);
  if (width <= 0 || height === 0) fail(`invalid size ${width}x${rawHeight}`);
  if (pixelOffset < 14 + headerSize) fail(`the pixel data offset ${pixelOffset} points into the header`);
  const header: BmpHeader = {
    width,
    height,
    topDown: rawHeight < 0,
    bpp,
    compression,
    headerSize,
    core,
    pixelOffset,
    rowBytes: Math.floor((bpp * width + 31) / 32) * 4,
  };
  const depths: Record<number, readonly number[]> = {
    [BI_RGB]: [1, 4, 8, 16, 24, 32],
    [BI_RLE8]: [8],
    [BI_RLE4]: [4],
    [BI_BITFIELDS]: [16, 32],
    [BI_ALPHABITFIELDS]: [16, 32],
  };
  const allowed = depths[compression];
  if (allowed === undefined) fail(`compression ${compression} (JPEG or PNG in a BMP) is not supported`);
  if (!allowed.includes(bpp)) {
    fail(
      compression === BI_RGB
        ? `${bpp} bits per pixel is not supported`
        : `compression ${compression} with ${bpp} bits per pixel is not supported`,
    );
  }
  if (compression === BI_BITFIELDS || compression === BI_ALPHABITFIELDS) header.masks = readMasks(b, view, bpp);
  return header;
}

/** The R, G, B masks, inside V2+ headers or right after a 40-byte one (the same offset): contiguous, in range. */
function readMasks(b: Uint8Array, view: DataView, bpp: number): [number, number, number] {
  if (b.length < 66) fail('the colour masks are truncated');
  const masks: [number, number, number] = [
    view.getUint32(54, true),
    view.getUint32(58, true),
    view.getUint32(62, true),
  ];
  for (const mask of masks) {
    const low = mask === 0 ? 0 : mask >>> ctz(mask);
    if ((low & (low + 1)) !== 0) fail(`colour mask 0x${mask.toString(16)} is not one run of bits`);
    if (bpp === 16 && mask > 0xffff) fail(`colour mask 0x${mask.toString(16)} is wider than 16 bits`);
  }
  if (masks.every((m) => m === 0)) fail('the colour masks are all zero');
  return masks;
}

function ctz(mask: number): number {
  return 31 - Math.clz32(mask & -mask);
}

/**
 * BMP -> Frame. Uncompressed 16/24/32-bit rows whose layout is one of our pixel formats are served in place
 * (bottom-up files get a negative stride); palette, RLE and other bit-field layouts are expanded to RGB.
 */
export function decodeBmp(b: Uint8Array): Frame {
  const h = readBmpHeader(b);
  if (h.compression === BI_RLE8 || h.compression === BI_RLE4) {
    if (h.pixelOffset > b.length) fail('the pixel data is missing');
    const indices = expandRle(b.subarray(h.pixelOffset), h);
    return expandIndexed(indices, 0, h.width, true, 8, h, readPalette(b, h));
  }
  const needed = h.pixelOffset + h.rowBytes * h.height;
  if (needed > b.length) fail(`the pixel data is truncated (${b.length} bytes, ${needed} needed)`);
  const place = (format: PixelFormat): Frame =>
    frameOf(b, h.width, h.height, format, {
      offset: h.topDown ? h.pixelOffset : h.pixelOffset + (h.height - 1) * h.rowBytes,
      stride: h.topDown ? h.rowBytes : -h.rowBytes,
    });
  if (h.bpp <= 8) return expandIndexed(b, h.pixelOffset, h.rowBytes, h.topDown, h.bpp, h, readPalette(b, h));
  if (h.bpp === 24) return place('bgr24');
  if (h.masks === undefined) return place(h.bpp === 32 ? 'bgra' : 'rgb555le');
  const inPlace = IN_PLACE[`${h.bpp}:${h.masks.map((m) => m.toString(16)).join(',')}`];
  return inPlace === undefined ? expandBitfields(b, h, h.masks) : place(inPlace);
}

/** Bit-field layouts that are one of our pixel formats (bpp:R,G,B masks in hex). */
const IN_PLACE: Readonly<Record<string, PixelFormat>> = {
  '32:ff0000,ff00,ff': 'bgra',
  '32:ff,ff00,ff0000': 'rgba',
  '32:ff000000,ff0000,ff00': 'abgr',
  '32:ff00,ff0000,ff000000': 'argb',
  '16:f800,7e0,1f': 'rgb565le',
  '16:7c00,3e0,1f': 'rgb555le',
};

/** Palette as RGB triplets, 256 entries (indexes beyond the stored ones are black). */
function readPalette(b: Uint8Array, h: BmpHeader): Uint8Array {
  const entryBytes = h.core ? 3 : 4;
  const paletteStart = 14 + h.headerSize;
  const declared = h.core ? 0 : new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(46, true);
  // Some writers store fewer entries than they declare (or than 2^bpp when they declare 0): read the entries that
  // fit before the pixels, as browsers do.
  const stored = Math.floor((Math.min(h.pixelOffset, b.length) - paletteStart) / entryBytes);
  const colours = Math.min(declared > 0 ? declared : 1 << h.bpp, 1 << h.bpp, stored);
  if (colours < 1) fail('the palette is missing');
  const palette = new Uint8Array(256 * 3);
  for (let i = 0; i < colours; i++) {
    const p = paletteStart + i * entryBytes;
    palette[i * 3] = b[p + 2]!;
    palette[i * 3 + 1] = b[p + 1]!;
    palette[i * 3 + 2] = b[p]!;
  }
  return palette;
}

/** 1/4/8-bit indexes (rows of `rowBytes` from `start`) -> RGB24 through the palette. */
function expandIndexed(
  src: Uint8Array,
  start: number,
  rowBytes: number,
  topDown: boolean,
  bpp: number,
  h: BmpHeader,
  palette: Uint8Array,
): Frame {
  const { width, height } = h;
  const out = new Uint8Array(width * height * 3);
  const perByte = 8 / bpp;
  const mask = (1 << bpp) - 1;
  for (let y = 0; y < height; y++) {
    const row = start + (topDown ? y : height - 1 - y) * rowBytes;
    let o = y * width * 3;
    for (let x = 0; x < width; x++, o += 3) {
      const index =
        bpp === 8
          ? src[row + x]! * 3
          : ((src[row + ((x / perByte) | 0)]! >> (8 - bpp * ((x % perByte) + 1))) & mask) * 3;
      out[o] = palette[index]!;
      out[o + 1] = palette[index + 1]!;
      out[o + 2] = palette[index + 2]!;
    }
  }
  return frameOf(out, width, height, 'rgb24');
}

/**
 * RLE8/RLE4 -> one palette index per pixel, top row first. Pixels the stream skips (delta, early end of line or of
 * bitmap) keep index 0, as OpenCV leaves them. Whatever would write outside the image (a run past its row's end or
 * past the last row, a delta out of the image) and a stream that ends before its end-of-bitmap marker (unless every
 * row was ended) make the file undecodable: each step consumes input, so a hostile stream ends, never loops.
 */
function expandRle(src: Uint8Array, h: BmpHeader): Uint8Array {
  const { width, height } = h;
  const four = h.bpp === 4;
  const out = new Uint8Array(width * height);
  const rowStart = (y: number) => (h.topDown ? y : height - 1 - y) * width;
  const within = (x: number, y: number, n: number, what: string): number => {
    if (y >= height) fail(`an RLE ${what} of ${n} pixels lies past the last row`);
    if (x + n > width) fail(`an RLE ${what} of ${n} pixels at (${x}, ${y}) passes the end of its ${width}-pixel row`);
    return rowStart(y) + x;
  };
  let x = 0;
  let y = 0; // in storage order: row 0 is the first stored (the bottom one unless top-down)
  let i = 0;
  for (;;) {
    if (i + 2 > src.length) {
      if (y >= height) return out;
      fail('the RLE data ends before its end-of-bitmap marker');
    }
    const count = src[i]!;
    const value = src[i + 1]!;
    i += 2;
    if (count > 0) {
      const at = within(x, y, count, 'run');
      if (!four) out.fill(value, at, at + count);
      else for (let k = 0; k < count; k++) out[at + k] = k & 1 ? value & 15 : value >> 4;
      x += count;
    } else if (value === 0) {
      x = 0;
      if (++y > height) fail('an RLE end of line lies past the last row');
    } else if (value === 1) {
      return out;
    } else if (value === 2) {
      if (i + 2 > src.length) fail('the RLE data ends inside a delta');
      x += src[i]!;
      y += src[i + 1]!;
      i += 2;
      if (x > width || y >= height) fail(`an RLE delta moves to (${x}, ${y}), outside the ${width}x${height} image`);
    } else {
      const bytes = four ? (value + 1) >> 1 : value;
      const at = within(x, y, value, 'literal run');
      if (i + bytes > src.length) fail('the RLE data ends inside a literal run');
      for (let k = 0; k < value; k++) {
        out[at + k] = four ? (k & 1 ? src[i + (k >> 1)]! & 15 : src[i + (k >> 1)]! >> 4) : src[i + k]!;
      }
      x += value;
      i += bytes + (bytes & 1); // literal runs are padded to 16 bits
    }
  }
}

/**
 * 16/32-bit words with arbitrary contiguous masks -> RGB24. A channel of n < 8 bits is widened by repeating its bits
 * (as readRowRgb widens 555/565, so both paths agree), a wider one keeps its top 8 bits; a zero mask reads as 0.
 */
function expandBitfields(b: Uint8Array, h: BmpHeader, masks: readonly [number, number, number]): Frame {
  const { width, height, rowBytes, bpp } = h;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const channels = masks.map((mask) => {
    const shift = mask === 0 ? 0 : ctz(mask);
    const bits = mask === 0 ? 0 : 32 - Math.clz32(mask >>> shift);
    const widen = new Uint8Array(bits > 0 && bits < 8 ? 1 << bits : 0);
    for (let v = 0; v < widen.length; v++) {
      let r = 0;
      for (let s = 8 - bits; s > -bits; s -= bits) r |= s >= 0 ? v << s : v >> -s;
      widen[v] = r;
    }
    return { mask, shift, bits, widen };
  });
  const out = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    const row = h.pixelOffset + (h.topDown ? y : height - 1 - y) * rowBytes;
    for (let x = 0, o = y * width * 3; x < width; x++) {
      const word = bpp === 16 ? view.getUint16(row + x * 2, true) : view.getUint32(row + x * 4, true);
      for (const c of channels) {
        const v = ((word & c.mask) >>> 0) >>> c.shift;
        out[o++] = c.bits === 0 ? 0 : c.bits < 8 ? c.widen[v]! : v >>> (c.bits - 8);
      }
    }
  }
  return frameOf(out, width, height, 'rgb24');
}
