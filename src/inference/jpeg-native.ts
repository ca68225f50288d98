import { createRequire } from 'node:module';
import { HxError } from '../errors.js';
import type { Frame, FrameRequirements } from './frame.js';
import type { MediaInfo } from './probe.js';

/** The C binding in native/jpeg-turbo (libjpeg-turbo), built by `npm install` when the system has its headers. */
export interface JpegTurboBinding {
  header(bytes: Uint8Array): {
    width: number;
    height: number;
    components: number;
    colorSpace: 'gray' | 'ycbcr' | 'rgb' | 'cmyk' | 'ycck' | 'other';
    progressive: boolean;
  };
  /** null: a colour space the binding does not convert (CMYK/YCCK); the caller falls back to libvips. */
  decode(
    bytes: Uint8Array,
    scaleDenom: 1 | 2 | 4 | 8,
    gray: boolean,
    fast: boolean,
    maxPixels: number,
  ): { width: number; height: number; channels: 1 | 3; data: Buffer } | null;
}

/** Set to 0 to run without the binding (benchmarks compare both paths); not a config key, it only picks a decoder. */
export const NATIVE_JPEG_ENV = 'HTTPEXTENSION_NATIVE_JPEG';

let binding: JpegTurboBinding | null | undefined;

/**
 * The binding, loaded on first use; undefined when it was not built (no libjpeg headers at install time) or is
 * switched off, in which case JPEGs go to sharp as before.
 */
export function jpegTurbo(): JpegTurboBinding | undefined {
  if (binding === undefined) {
    binding = null;
    if (process.env[NATIVE_JPEG_ENV] !== '0') {
      try {
        // From dist/src/inference/ (compiled) to the package root.
        const require = createRequire(import.meta.url);
        binding = require('../../../native/jpeg-turbo/build/Release/jpeg_turbo.node') as JpegTurboBinding;
      } catch {
        binding = null;
      }
    }
  }
  return binding ?? undefined;
}

/**
 * Decodes a JPEG with the binding: synchronously (we are on a pool worker, a thread-pool hop would only add latency)
 * and, when the processor allows, at the smallest DCT scale that keeps `minReducedPixels` (unlike libvips, the
 * binding has no fixed cost worth avoiding, so small frames are reduced too). Returns undefined when the binding is
 * missing or cannot convert the image's colour space.
 */
export function decodeJpegNative(bytes: Uint8Array, info: MediaInfo, needs: FrameRequirements): Frame | undefined {
  const turbo = jpegTurbo();
  if (turbo === undefined) return undefined;
  const reduction = jpegReduction(info, needs);
  let out: ReturnType<JpegTurboBinding['decode']>;
  try {
    // A processor that accepts a reduced frame only aggregates pixels: the fast integer IDCT and box chroma
    // upsampling change single pixels by a level or two and the mean by far less.
    out = turbo.decode(bytes, reduction, false, (needs.maxReduction ?? 1) > 1, info.width * info.height);
  } catch (error) {
    throw new HxError(
      'HX_ERR_MEDIA_UNDECODABLE',
      `The JPEG image could not be decoded: ${lowerFirst(String((error as Error).message))}`,
      { cause: error },
    );
  }
  if (out === null) return undefined;
  return {
    width: out.width,
    height: out.height,
    format: out.channels === 1 ? 'gray8' : 'rgb24',
    data: new Uint8Array(out.data.buffer, out.data.byteOffset, out.data.byteLength),
    offset: 0,
    stride: out.width * out.channels,
    sourceWidth: info.width,
    sourceHeight: info.height,
  };
}

/** The largest of 1/2, 1/4, 1/8 the processor allows whose output keeps at least `minReducedPixels` pixels. */
export function jpegReduction(info: MediaInfo, needs: FrameRequirements): 1 | 2 | 4 | 8 {
  const floor = needs.minReducedPixels ?? 0;
  let r = needs.maxReduction ?? 1;
  while (r > 1 && Math.ceil(info.width / r) * Math.ceil(info.height / r) < floor) r = (r / 2) as 1 | 2 | 4;
  return r;
}

/** libjpeg's "Premature end of JPEG file" reads as libvips' "premature end of JPEG image" does, mid-sentence. */
function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}
