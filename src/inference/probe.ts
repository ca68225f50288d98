import { isRawFormat, type RawFormat, rawFrameBytes } from '../contract/pixel-format.js';
import { HxError } from '../errors.js';
import { readBmpHeader } from './bmp.js';
import { undecodable } from './decode-error.js';

export type EncodedKind = 'jpeg' | 'png' | 'bmp';
export type MediaKind = EncodedKind | 'raw';

/** What the front end learns about a body before it is queued: enough to enforce the pixel limit. */
export interface MediaInfo {
  kind: MediaKind;
  width: number;
  height: number;
  /** raw only */
  format?: RawFormat;
  /** raw only: bytes per row (Y plane for yuv420p) */
  strideBytes?: number;
  /** JPEG/PNG: the header says the image has one grey channel (plus alpha), so it decodes to gray8. */
  grey?: boolean;
}

/** DIB header sizes of the BMP versions in use (core, info, V2, V3, OS/2 2.x, V4, V5). */
const BMP_HEADER_SIZES = new Set([12, 40, 52, 56, 64, 108, 124]);

/**
 * Identifies a JPEG, PNG or BMP by its magic bytes, whatever Content-Type said. "BM" alone is too weak (text can
 * start with it), so a BMP must also carry a known DIB header size.
 */
export function sniffKind(bytes: Uint8Array): EncodedKind | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    return 'png';
  }
  if (bytes.length >= 18 && bytes[0] === 0x42 && bytes[1] === 0x4d) {
    const headerSize = bytes[14]! | (bytes[15]! << 8) | (bytes[16]! << 16) | (bytes[17]! << 24);
    if (BMP_HEADER_SIZES.has(headerSize)) return 'bmp';
  }
  return undefined;
}

/**
 * Reads width and height from the image header without decoding, so that an image over the pixel limit is refused
 * before any pixel memory is allocated (a 100-byte PNG can declare 65535x65535 pixels).
 */
export function probeEncoded(bytes: Uint8Array): MediaInfo {
  const kind = sniffKind(bytes);
  if (kind === undefined) {
    throw new HxError(
      'HX_ERR_MEDIA_UNDECODABLE',
      'The body is not a JPEG, PNG or BMP image (unknown magic bytes); raw pixels must be sent as image/x-raw',
    );
  }
  // A BMP header says more than its size (compression, bit depth, masks): refused here if decodeBmp cannot do it.
  const size = kind === 'jpeg' ? jpegSize(bytes) : kind === 'png' ? pngSize(bytes) : bmpSize(bytes);
  if (size === undefined || size.width <= 0 || size.height <= 0) {
    throw undecodable(kind, 'its header is truncated or invalid');
  }
  return { kind, ...size };
}

function bmpSize(b: Uint8Array): { width: number; height: number } {
  const { width, height } = readBmpHeader(b);
  return { width, height };
}

function pngSize(b: Uint8Array): { width: number; height: number; grey?: boolean } | undefined {
  // Signature (8) + IHDR length (4) + "IHDR" (4) + width (4) + height (4) + bit depth (1) + colour type (1)
  if (b.length < 26 || b[12] !== 0x49 || b[13] !== 0x48 || b[14] !== 0x44 || b[15] !== 0x52) return undefined;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const size = { width: view.getUint32(16), height: view.getUint32(20) };
  // Colour types 0 (grey) and 4 (grey + alpha).
  return b[25] === 0 || b[25] === 4 ? { ...size, grey: true } : size;
}

/** Walks the JPEG markers to the first SOFn (baseline, extended, progressive or lossless). */
function jpegSize(b: Uint8Array): { width: number; height: number; grey?: boolean } | undefined {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) {
      // Extraneous bytes between segments: libjpeg skips them with a warning, and so do we.
      i++;
      continue;
    }
    const marker = b[i + 1]!;
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    // 0xFF00 is not a marker (libjpeg discards it as extraneous data); SOI, TEM and RSTn have no length.
    if (marker === 0x00 || marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2;
      continue;
    }
    const length = (b[i + 2]! << 8) | b[i + 3]!;
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) {
      const size = { height: (b[i + 5]! << 8) | b[i + 6]!, width: (b[i + 7]! << 8) | b[i + 8]! };
      return b[i + 9] === 1 ? { ...size, grey: true } : size;
    }
    if (marker === 0xd9 || marker === 0xda || length < 2) return undefined;
    i += 2 + length;
  }
  return undefined;
}

/** Raw geometry from the first source that states it; each source may state only some fields. */
export interface RawGeometrySource {
  width?: string | number | undefined;
  height?: string | number | undefined;
  format?: string | undefined;
  stride?: string | number | undefined;
}

/**
 * Resolves the geometry of an image/x-raw body. Sources are given in precedence order (Content-Type parameters,
 * query, headers, configuration); each field is taken from the first source that has it. The body length must
 * equal what the geometry implies, else 400 stating the expected byte count.
 */
export function probeRaw(bodyBytes: number, sources: readonly RawGeometrySource[]): MediaInfo {
  const pick = (key: keyof RawGeometrySource): string | undefined => {
    for (const source of sources) {
      const value = source[key];
      if (value !== undefined && value !== '') return String(value);
    }
    return undefined;
  };
  const width = pick('width');
  const height = pick('height');
  const format = pick('format')?.toLowerCase();
  // A stride describes rows of one width and pixel format: a source's stride is ignored when that same source states
  // a width or format the request overrode (e.g. a configured stride for 416-wide bgr24 must not apply to a request
  // that says ?width=640&format=rgb24).
  const stride = sources.find(
    (source) =>
      source.stride !== undefined &&
      source.stride !== '' &&
      agrees(source.width, width) &&
      agrees(source.format?.toLowerCase(), format),
  )?.stride;
  const missing = [width === undefined && 'width', height === undefined && 'height', format === undefined && 'format']
    .filter(Boolean)
    .join(', ');
  if (missing) {
    throw new HxError(
      'HX_ERR_MEDIA_RAW_PARAMS',
      `image/x-raw needs ${missing}: send e.g. "Content-Type: image/x-raw; width=416; height=416; format=bgr24" ` +
        '(or ?width=&height=&format= in the query)',
    );
  }
  if (!isRawFormat(format!)) {
    throw new HxError(
      'HX_ERR_MEDIA_RAW_PARAMS',
      `image/x-raw format "${format}" is not one of yuv420p, rgb565be, rgb565le, rgb555be, rgb555le, rgb24, bgr24, ` +
        'argb, rgba, abgr, bgra',
    );
  }
  const w = parseDimension('width', width!);
  const h = parseDimension('height', height!);
  const minStride = rawFrameBytes(format, w, 1) - (format === 'yuv420p' ? 2 * Math.ceil(w / 2) : 0);
  // A row of the widest frame in the widest format (65535 x 4 bytes) plus alignment padding.
  const s = stride === undefined ? minStride : parseDimension('stride', String(stride), 65535 * 4 + 64);
  if (s < minStride) {
    throw new HxError('HX_ERR_MEDIA_RAW_PARAMS', `image/x-raw stride ${s} is less than ${minStride} (width x bytes)`);
  }
  const expected = rawFrameBytes(format, w, h, s);
  if (bodyBytes !== expected) {
    throw new HxError(
      'HX_ERR_MEDIA_RAW_SIZE',
      `image/x-raw ${format} ${w}x${h} (stride ${s}) must be ${expected} bytes, but the body has ${bodyBytes}`,
    );
  }
  return { kind: 'raw', width: w, height: h, format, strideBytes: s };
}

function agrees(stated: string | number | undefined, resolved: string | undefined): boolean {
  return stated === undefined || stated === '' || String(stated) === resolved;
}

function parseDimension(name: string, value: string, max = 65535): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > max) {
    throw new HxError(
      'HX_ERR_MEDIA_RAW_PARAMS',
      `image/x-raw ${name} "${value}" is not a whole number from 1 to ${max}`,
    );
  }
  return n;
}
