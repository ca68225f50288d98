import { createRequire } from 'node:module';
import { type Frame, type FrameRequirements, frameOf } from '../contract/frame.js';
import { undecodable } from './decode-error.js';
import type { MediaInfo } from './probe.js';

/** The C binding in native/jpeg-turbo (libjpeg-turbo), built by `npm install` when the system has its headers. */
export interface JpegTurboBinding {
  /** Every colour space (CMYK and YCCK converted to RGB); throws on a damaged or truncated body. */
  decode(
    bytes: Uint8Array,
    scaleDenom: 1 | 2 | 4 | 8,
    gray: boolean,
    fast: boolean,
    maxPixels: number,
  ): { width: number; height: number; channels: 1 | 3; data: Buffer };
  /** Packed RGB rows `stride` bytes apart to a baseline 4:2:0 JPEG. */
  encode(rgb: Uint8Array, width: number, height: number, stride: number, quality: number): Buffer;
  /** glibc mallopt(M_MMAP_THRESHOLD): blocks of at least `bytes` get their own mapping; false elsewhere. */
  setMmapThreshold(bytes: number): boolean;
}

/** Set to 0 to run without the binding (benchmarks compare both paths); not a config key, it only picks a decoder. */
const NATIVE_JPEG_ENV = 'HTTPEXTENSION_NATIVE_JPEG';

let binding: JpegTurboBinding | null | undefined;

/**
 * The binding, loaded on first use; undefined when it was not built (no libjpeg headers at install time) or is
 * switched off, in which case JPEGs go to sharp.
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
 * Frames from this size up (a 2560x1440 RGB frame is 11 MB, one near the default maxPixels 26 MB) are allocated in
 * their own mapping and given back to the system when released, so that a burst of frames near maxPixels leaves no
 * high-water mark behind in glibc's arenas (BENCHMARKS.md, "Memory after decompression bombs").
 */
export const LARGE_FRAME_BYTES = 16 * 2 ** 20;

/**
 * Sets the allocator up for large frames, whichever decoder then runs: by the binding, as it is what links C code into
 * the process anyway; a no-op without it or off glibc. mallopt is process-wide and idempotent, so each thread that
 * loads the decoders may call it once.
 */
export function tuneAllocator(): void {
  jpegTurbo()?.setMmapThreshold(LARGE_FRAME_BYTES);
}

/**
 * Decodes a JPEG with the binding (which must be loaded): synchronously (we are on a pool worker, a thread-pool hop
 * would only add latency) and at the DCT scale `jpegReduction` picks.
 */
export function decodeJpegNative(bytes: Uint8Array, info: MediaInfo, needs: FrameRequirements): Frame {
  const reduction = jpegReduction(info, needs);
  let out: ReturnType<JpegTurboBinding['decode']>;
  try {
    // A processor that accepts a reduced frame only aggregates pixels: the fast integer IDCT and box chroma
    // upsampling change single pixels by a level or two and the mean by far less.
    out = jpegTurbo()!.decode(
      bytes,
      reduction,
      needs.lumaOnly === true,
      (needs.maxReduction ?? 1) > 1,
      info.width * info.height,
    );
  } catch (error) {
    throw undecodable('jpeg', lowerFirst(String((error as Error).message)), error);
  }
  return frameOf(out.data, out.width, out.height, out.channels === 1 ? 'gray8' : 'rgb24', {
    sourceWidth: info.width,
    sourceHeight: info.height,
  });
}

/**
 * The one DCT-scaling rule, whichever decoder runs (so that a processor sees the same frame size with or without the
 * binding): the largest of 1/2, 1/4, 1/8 the processor allows whose output keeps at least `minReducedPixels` pixels.
 */
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
