import { HxError } from '../errors.js';
import { isRawFormat, type RawFormat, rawFrameBytes } from './pixel-format.js';

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
}

/** Identifies a JPEG, PNG or BMP by its magic bytes, whatever Content-Type said. */
export function sniffKind(bytes: Uint8Array): EncodedKind | undefined {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return 'jpeg';
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) {
    return 'png';
  }
  if (bytes.length >= 2 && bytes[0] === 0x42 && bytes[1] === 0x4d) return 'bmp';
  return undefined;
}

/**
 * Reads width and height from the image header without decoding, so that an image over the pixel limit is refused
 * before any pixel memory is allocated (a 100-byte PNG can declare 65535x65535 pixels).
 */
export function probeEncoded(bytes: Uint8Array): MediaInfo {
  const kind = sniffKind(bytes);
  let size: { width: number; height: number } | undefined;
  if (kind === 'jpeg') size = jpegSize(bytes);
  else if (kind === 'png') size = pngSize(bytes);
  else if (kind === 'bmp') size = bmpSize(bytes);
  if (kind === undefined || size === undefined || size.width <= 0 || size.height <= 0) {
    throw new HxError(
      'HX_ERR_MEDIA_UNDECODABLE',
      kind === undefined
        ? 'The body is not a JPEG, PNG or BMP image (unknown magic bytes); raw pixels must be sent as image/x-raw'
        : `The body looks like ${kind.toUpperCase()} but its header is truncated or invalid`,
    );
  }
  return { kind, ...size };
}

function pngSize(b: Uint8Array): { width: number; height: number } | undefined {
  // Signature (8) + IHDR length (4) + "IHDR" (4) + width (4) + height (4)
  if (b.length < 24 || b[12] !== 0x49 || b[13] !== 0x48 || b[14] !== 0x44 || b[15] !== 0x52) return undefined;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return { width: view.getUint32(16), height: view.getUint32(20) };
}

function bmpSize(b: Uint8Array): { width: number; height: number } | undefined {
  if (b.length < 26) return undefined;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const headerSize = view.getUint32(14, true);
  if (headerSize === 12) return { width: view.getUint16(18, true), height: view.getUint16(20, true) };
  if (headerSize < 40) return undefined;
  return { width: view.getInt32(18, true), height: Math.abs(view.getInt32(22, true)) };
}

/** Walks the JPEG markers to the first SOFn (baseline, extended, progressive or lossless). */
function jpegSize(b: Uint8Array): { width: number; height: number } | undefined {
  let i = 2;
  while (i + 9 < b.length) {
    if (b[i] !== 0xff) return undefined;
    const marker = b[i + 1]!;
    if (marker === 0xff) {
      i++; // fill byte
      continue;
    }
    if (marker === 0xd8 || marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) {
      i += 2;
      continue;
    }
    const length = (b[i + 2]! << 8) | b[i + 3]!;
    const isSof = marker >= 0xc0 && marker <= 0xcf && marker !== 0xc4 && marker !== 0xc8 && marker !== 0xcc;
    if (isSof) return { height: (b[i + 5]! << 8) | b[i + 6]!, width: (b[i + 7]! << 8) | b[i + 8]! };
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
  const stride = pick('stride');
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
  const s = stride === undefined ? minStride : parseDimension('stride', stride);
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

function parseDimension(name: string, value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1 || n > 65535) {
    throw new HxError(
      'HX_ERR_MEDIA_RAW_PARAMS',
      `image/x-raw ${name} "${value}" is not a whole number from 1 to 65535`,
    );
  }
  return n;
}
