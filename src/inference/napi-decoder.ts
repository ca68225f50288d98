import { createRequire } from 'node:module';
import { type Frame, frameOf } from '../contract/frame.js';
import type { PixelFormat } from '../contract/pixel-format.js';
import { undecodable } from './decode-error.js';
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
 * Decodes an 8-bit grey or RGB PNG with @napi-rs/image (Rust `image`): synchronously, on the calling pool worker, at
 * a third of libvips' CPU cost (BENCHMARKS.md). Returns undefined for PNGs with alpha or 16 bits.
 */
export function decodePngNapi(bytes: Uint8Array, info: MediaInfo): Frame | undefined {
  let pixels: Buffer;
  try {
    const T = loadTransformer();
    pixels = new T(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)).rawPixelsSync();
  } catch (error) {
    throw undecodable('png', String((error as Error).message).split('\n')[0]!, error);
  }
  const format = FORMATS[pixels.length / (info.width * info.height)];
  return format === undefined ? undefined : frameOf(pixels, info.width, info.height, format);
}
