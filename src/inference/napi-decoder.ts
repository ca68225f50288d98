import { createRequire } from 'node:module';
import { HxError } from '../errors.js';
import type { Frame } from './frame.js';
import type { PixelFormat } from './pixel-format.js';
import type { MediaInfo } from './probe.js';

/**
 * Bytes per pixel of what @napi-rs/image hands back -> our format. Only 1 and 3 are unambiguous (4 is RGBA 8-bit or
 * grey+alpha 16-bit); everything with alpha or 16 bits goes to libvips, which drops alpha and narrows to 8 bits.
 */
const FORMATS: Record<number, PixelFormat> = { 1: 'gray8', 3: 'rgb24' };

type TransformerClass = typeof import('@napi-rs/image').Transformer;
let transformer: TransformerClass | undefined;

/** Loaded on first use: a worker that never sees a PNG never maps the library. */
function loadTransformer(): TransformerClass {
  transformer ??= (createRequire(import.meta.url)('@napi-rs/image') as typeof import('@napi-rs/image')).Transformer;
  return transformer;
}

/**
 * Decodes a PNG, or a small JPEG when the libjpeg-turbo binding is missing, with @napi-rs/image (Rust `image`):
 * synchronously, on the calling pool worker, at 40-60% of libvips' CPU cost for these (BENCHMARKS.md). Returns
 * undefined for what it should not take: PNGs with alpha or 16 bits, CMYK JPEGs, and JPEGs without an end marker
 * (the Rust decoder pads a truncated JPEG with grey where libvips refuses it, and the answer must not depend on
 * which decoder ran).
 */
export function decodeWithNapi(bytes: Uint8Array, info: MediaInfo): Frame | undefined {
  if (info.kind === 'jpeg' && !plainJpeg(bytes)) return undefined;
  let pixels: Buffer;
  try {
    const T = loadTransformer();
    pixels = new T(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).rawPixelsSync();
  } catch (error) {
    throw new HxError(
      'HX_ERR_MEDIA_UNDECODABLE',
      `The ${info.kind.toUpperCase()} image could not be decoded: ${String((error as Error).message).split('\n')[0]}`,
      { cause: error },
    );
  }
  const perPixel = pixels.length / (info.width * info.height);
  const format = FORMATS[perPixel];
  if (format === undefined) return undefined;
  return {
    width: info.width,
    height: info.height,
    format,
    data: new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength),
    offset: 0,
    stride: info.width * perPixel,
    sourceWidth: info.width,
    sourceHeight: info.height,
  };
}

/** Ends with EOI and its frame header declares 1 or 3 components (not CMYK/YCCK). */
function plainJpeg(b: Uint8Array): boolean {
  if (b.length < 4 || b[b.length - 2] !== 0xff || b[b.length - 1] !== 0xd9) return false;
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return false;
    const marker = b[i + 1]!;
    if (marker === 0xff) {
      i++;
      continue;
    }
    const length = (b[i + 2]! << 8) | b[i + 3]!;
    if (marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc) {
      const components = b[i + 9]!;
      return components === 1 || components === 3;
    }
    i += 2 + length;
  }
  return false;
}
