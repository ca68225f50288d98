import type { OutputInfo } from 'sharp';
import { type Frame, type FrameRequirements, frameOf } from '../contract/frame.js';
import { loadSharp } from '../vision/sharp-lazy.js';
import { decodeBmp } from './bmp.js';
import { undecodable } from './decode-error.js';
import { decodeJpegNative, jpegReduction, jpegTurbo, tuneAllocator } from './jpeg-native.js';
import { decodePngNapi } from './napi-decoder.js';
import type { MediaInfo } from './probe.js';

// Once per thread that decodes, not per frame (BENCHMARKS.md, "Memory after decompression bombs").
tuneAllocator();

/**
 * Turns a body into a Frame, one decoder per format: raw and most BMP bodies are served in place (no copy, no
 * conversion), other BMPs are expanded here; JPEG goes to the libjpeg-turbo binding, to libvips only when the binding
 * is not built, at the reduced DCT scale `jpegReduction` allows either way; PNG goes to @napi-rs/image, to libvips
 * only for what that cannot hand back as 8-bit grey or RGB (alpha, 16 bits).
 */
export async function decodeFrame(bytes: Uint8Array, info: MediaInfo, needs: FrameRequirements = {}): Promise<Frame> {
  switch (info.kind) {
    case 'raw':
      return rawFrame(bytes, info);
    case 'bmp':
      return decodeBmp(bytes);
    case 'jpeg':
      return jpegTurbo() === undefined ? decodeWithSharp(bytes, info, needs) : decodeJpegNative(bytes, info, needs);
    case 'png':
      return decodePngNapi(bytes, info) ?? decodeWithSharp(bytes, info, needs);
  }
}

function rawFrame(bytes: Uint8Array, info: MediaInfo): Frame {
  const format = info.format!;
  const stride = info.strideBytes!;
  if (format !== 'yuv420p') return frameOf(bytes, info.width, info.height, format, { stride });
  const chromaStride = Math.ceil(stride / 2);
  const uOffset = stride * info.height;
  const vOffset = uOffset + chromaStride * Math.ceil(info.height / 2);
  return frameOf(bytes, info.width, info.height, format, {
    stride,
    chroma: { uOffset, vOffset, stride: chromaStride },
  });
}

/**
 * libjpeg reports lost pixel data as warnings and fills the gap with grey: a JPEG whose scan ends early (a body cut
 * before its EOI marker), has bit errors or misses restart markers would decode "successfully" into a frame that is
 * partly fabricated, and a processor would answer on it. These warnings make the frame undecodable, as they do in the
 * binding (native/jpeg-turbo); other JPEG warnings (extraneous bytes between markers, a bad ICC marker, an unknown
 * JFIF revision) are common in camera output and harmless.
 */
const JPEG_DATA_LOSS = /premature end|bad huffman code|instead of RST|inconsistent progression|bad arithmetic code/i;

/** libvips: the JPEG decoder without the binding, and PNGs with alpha or 16 bits (exported for the benchmarks). */
export async function decodeWithSharp(bytes: Uint8Array, info: MediaInfo, needs: FrameRequirements): Promise<Frame> {
  let result: { data: Buffer; info: OutputInfo };
  try {
    try {
      result = await runSharp(bytes, info, needs, info.kind === 'jpeg' ? 'warning' : 'error');
    } catch (error) {
      // Only a JPEG was decoded with failOn 'warning': retry the harmless warnings leniently.
      if (info.kind !== 'jpeg' || JPEG_DATA_LOSS.test(String((error as Error).message))) throw error;
      result = await runSharp(bytes, info, needs, 'error');
    }
  } catch (error) {
    throw undecodable(info.kind, String((error as Error).message).split('\n')[0]!, error);
  }
  const { data, info: out } = result;
  return frameOf(data, out.width, out.height, out.channels === 1 ? 'gray8' : 'rgb24', {
    sourceWidth: info.width,
    sourceHeight: info.height,
  });
}

/**
 * One libvips decode to 8-bit RGB, or 8-bit grey when the header says the image is grey (a third of the memory,
 * and processors read gray8 like any other format). Alpha is dropped: pipelines never send transparency, and
 * colour values under alpha are kept as stored. CMYK, 16-bit and palette images are converted by libvips.
 */
async function runSharp(
  bytes: Uint8Array,
  info: MediaInfo,
  needs: FrameRequirements,
  failOn: 'warning' | 'error',
): Promise<{ data: Buffer; info: OutputInfo }> {
  const reduction = info.kind === 'jpeg' ? jpegReduction(info, needs) : 1;
  const sharp = await loadSharp();
  let pipeline = sharp(bytes, { failOn, limitInputPixels: info.width * info.height });
  if (reduction > 1) {
    // Shrink-on-load is libjpeg's DCT scaling; the nearest-neighbour resize only pins the size to the binding's.
    pipeline = pipeline.resize({
      width: Math.ceil(info.width / reduction),
      height: Math.ceil(info.height / reduction),
      fit: 'fill',
      kernel: 'nearest',
      fastShrinkOnLoad: true,
    });
  }
  return pipeline
    .removeAlpha()
    .toColourspace(info.grey ? 'b-w' : 'srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
}
