import type { OutputInfo } from 'sharp';
import { HxError } from '../errors.js';
import type { Frame, FrameRequirements } from './frame.js';
import { decodeJpegNative } from './jpeg-native.js';
import { decodeWithNapi } from './napi-decoder.js';
import type { PixelFormat } from './pixel-format.js';
import type { MediaInfo } from './probe.js';
import { loadSharp } from './sharp-lazy.js';

/**
 * Turns a body into a Frame. BMP and raw bodies are served in place (no copy, no conversion); JPEG and PNG are
 * decoded by the cheapest decoder that handles them (below), a JPEG at reduced scale when the processor allows it
 * (DCT scaling skips most of the inverse transform and all of the colour upsampling).
 */
export async function decodeFrame(bytes: Uint8Array, info: MediaInfo, needs: FrameRequirements = {}): Promise<Frame> {
  switch (info.kind) {
    case 'raw':
      return rawFrame(bytes, info);
    case 'bmp':
      return decodeBmp(bytes);
    case 'jpeg':
      // libjpeg-turbo directly when the optional binding is built (2-4x less CPU than libvips); without it, a small
      // JPEG is cheapest in @napi-rs/image and a large one in libvips, whose shrink-on-load wins (BENCHMARKS.md).
      return (
        decodeJpegNative(bytes, info, needs) ??
        (info.width * info.height < 1_000_000 ? decodeWithNapi(bytes, info) : undefined) ??
        decodeWithSharp(bytes, info, needs)
      );
    case 'png':
      return decodeWithNapi(bytes, info) ?? decodeWithSharp(bytes, info, needs);
  }
}

function rawFrame(bytes: Uint8Array, info: MediaInfo): Frame {
  const format = info.format!;
  const stride = info.strideBytes!;
  const frame: Frame = {
    width: info.width,
    height: info.height,
    format,
    data: bytes,
    offset: 0,
    stride,
    sourceWidth: info.width,
    sourceHeight: info.height,
  };
  if (format === 'yuv420p') {
    const chromaStride = Math.ceil(stride / 2);
    const uOffset = stride * info.height;
    frame.chroma = { uOffset, vOffset: uOffset + chromaStride * Math.ceil(info.height / 2), stride: chromaStride };
  }
  return frame;
}

/**
 * libjpeg reports lost pixel data as warnings and fills the gap with grey: a JPEG whose scan ends early, has bit
 * errors or misses restart markers would decode "successfully" into a frame that is partly fabricated, and a
 * processor would answer on it. These warnings make the frame undecodable; other JPEG warnings (extraneous bytes
 * between markers, a bad ICC marker, an unknown JFIF revision) are common in camera output and harmless.
 */
const JPEG_DATA_LOSS = /premature end|bad huffman code|instead of RST|inconsistent progression|bad arithmetic code/i;

/** libvips; also the JPEG fallback without the binding (exported so a test can hold both paths to agree). */
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
    throw new HxError(
      'HX_ERR_MEDIA_UNDECODABLE',
      `The ${info.kind.toUpperCase()} image could not be decoded: ${String((error as Error).message).split('\n')[0]}`,
      { cause: error },
    );
  }
  const { data, info: out } = result;
  const format: PixelFormat = out.channels === 1 ? 'gray8' : 'rgb24';
  return {
    width: out.width,
    height: out.height,
    format,
    data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    offset: 0,
    stride: out.width * out.channels,
    sourceWidth: info.width,
    sourceHeight: info.height,
  };
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
  const reduction = chooseReduction(info, needs);
  const sharp = await loadSharp();
  let pipeline = sharp(bytes, { failOn, limitInputPixels: info.width * info.height });
  if (reduction > 1) {
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

/** Only a large JPEG is worth reducing: below ~1 MP libvips' fixed cost outweighs what DCT scaling saves. */
function chooseReduction(info: MediaInfo, needs: FrameRequirements): number {
  const allowed = needs.maxReduction ?? 1;
  if (info.kind !== 'jpeg' || allowed === 1 || info.width * info.height < 1_000_000) return 1;
  const floor = needs.minReducedPixels ?? 0;
  let r: number = allowed;
  while (r > 1 && (info.width / r) * (info.height / r) < floor) r /= 2;
  return r;
}

const BI_RGB = 0;
const BI_BITFIELDS = 3;
const BI_ALPHABITFIELDS = 6;

/**
 * BMP: 16/24/32-bit rows are served in place (bottom-up files get a negative stride); 1/4/8-bit palette images are
 * expanded to RGB. RLE-compressed files are refused (no pipeline sends them).
 */
export function decodeBmp(b: Uint8Array): Frame {
  const fail = (why: string): never => {
    throw new HxError('HX_ERR_MEDIA_UNDECODABLE', `The BMP image could not be decoded: ${why}`);
  };
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
  const topDown = rawHeight < 0;
  if (width <= 0 || height === 0) fail(`invalid size ${width}x${rawHeight}`);
  const rowBytes = Math.floor((bpp * width + 31) / 32) * 4;
  if (pixelOffset < 14 + headerSize) fail(`the pixel data offset ${pixelOffset} points into the header`);
  if (pixelOffset + rowBytes * height > b.length) {
    fail(`the pixel data is truncated (${b.length} bytes, ${pixelOffset + rowBytes * height} needed)`);
  }
  const place = (format: PixelFormat): Frame => ({
    width,
    height,
    format,
    data: b,
    offset: topDown ? pixelOffset : pixelOffset + (height - 1) * rowBytes,
    stride: topDown ? rowBytes : -rowBytes,
    sourceWidth: width,
    sourceHeight: height,
  });
  const masks = (): [number, number, number] => {
    if (b.length < 66) fail('the colour masks are truncated');
    return [view.getUint32(54, true), view.getUint32(58, true), view.getUint32(62, true)];
  };
  const isBitfields = compression === BI_BITFIELDS || compression === BI_ALPHABITFIELDS;
  if (!isBitfields && compression !== BI_RGB) fail(`compression ${compression} (RLE/JPEG/PNG in BMP) is not supported`);
  switch (bpp) {
    case 24:
      if (isBitfields) fail('24-bit with bit fields is not supported');
      return place('bgr24');
    case 32: {
      if (!isBitfields) return place('bgra');
      const [r, g, bl] = masks();
      if (r === 0xff0000 && g === 0xff00 && bl === 0xff) return place('bgra');
      if (r === 0xff && g === 0xff00 && bl === 0xff0000) return place('rgba');
      if (r === 0xff000000 && g === 0xff0000 && bl === 0xff00) return place('abgr');
      if (r === 0xff00 && g === 0xff0000 && bl === 0xff000000) return place('argb');
      return fail('32-bit colour masks other than 8-bit channels are not supported');
    }
    case 16: {
      if (!isBitfields) return place('rgb555le');
      const [r, g, bl] = masks();
      if (r === 0xf800 && g === 0x07e0 && bl === 0x1f) return place('rgb565le');
      if (r === 0x7c00 && g === 0x03e0 && bl === 0x1f) return place('rgb555le');
      return fail('16-bit colour masks other than 565 and 555 are not supported');
    }
    case 1:
    case 4:
    case 8:
      return expandPalette(b, view, { width, height, topDown, bpp, rowBytes, pixelOffset, headerSize, core }, fail);
    default:
      return fail(`${bpp} bits per pixel is not supported`);
  }
}

interface PaletteLayout {
  width: number;
  height: number;
  topDown: boolean;
  bpp: number;
  rowBytes: number;
  pixelOffset: number;
  headerSize: number;
  core: boolean;
}

function expandPalette(b: Uint8Array, view: DataView, l: PaletteLayout, fail: (why: string) => never): Frame {
  const entryBytes = l.core ? 3 : 4;
  const paletteStart = 14 + l.headerSize;
  const declared = l.core ? 0 : view.getUint32(46, true);
  // Some writers store fewer entries than they declare (or than 2^bpp when they declare 0): read the entries that
  // fit before the pixels, as browsers do; indexes beyond them are black.
  const stored = Math.floor((l.pixelOffset - paletteStart) / entryBytes);
  const colours = Math.min(declared > 0 ? declared : 1 << l.bpp, 1 << l.bpp, stored);
  if (colours < 1) fail('the palette is missing');
  const palette = new Uint8Array(256 * 3);
  for (let i = 0; i < colours; i++) {
    const p = paletteStart + i * entryBytes;
    palette[i * 3] = b[p + 2]!;
    palette[i * 3 + 1] = b[p + 1]!;
    palette[i * 3 + 2] = b[p]!;
  }
  const out = new Uint8Array(l.width * l.height * 3);
  const perByte = 8 / l.bpp;
  const mask = (1 << l.bpp) - 1;
  for (let y = 0; y < l.height; y++) {
    const src = l.pixelOffset + (l.topDown ? y : l.height - 1 - y) * l.rowBytes;
    let o = y * l.width * 3;
    for (let x = 0; x < l.width; x++, o += 3) {
      const index =
        l.bpp === 8
          ? b[src + x]! * 3
          : ((b[src + ((x / perByte) | 0)]! >> (8 - l.bpp * ((x % perByte) + 1))) & mask) * 3;
      out[o] = palette[index]!;
      out[o + 1] = palette[index + 1]!;
      out[o + 2] = palette[index + 2]!;
    }
  }
  return {
    width: l.width,
    height: l.height,
    format: 'rgb24',
    data: out,
    offset: 0,
    stride: l.width * 3,
    sourceWidth: l.width,
    sourceHeight: l.height,
  };
}
