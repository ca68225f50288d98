/**
 * Pixel formats: the 11 raw formats of the protocol (`image/x-raw`) plus the layouts decoders produce.
 * A frame is never converted unless a processor asks: BMP bodies are served in place as bgr24/bgra/rgb555le
 * rows (bottom-up ones with a negative stride), raw bodies likewise.
 */
export const RAW_FORMAT_NAMES = [
  'yuv420p',
  'rgb565be',
  'rgb565le',
  'rgb555be',
  'rgb555le',
  'rgb24',
  'bgr24',
  'argb',
  'rgba',
  'abgr',
  'bgra',
] as const;

export type RawFormat = (typeof RAW_FORMAT_NAMES)[number];
export type PixelFormat = RawFormat | 'gray8';

export function isRawFormat(name: string): name is RawFormat {
  return (RAW_FORMAT_NAMES as readonly string[]).includes(name);
}

interface PackedSpec {
  kind: 'packed';
  bytesPerPixel: number;
  /** Byte offsets of R, G and B inside one pixel. */
  r: number;
  g: number;
  b: number;
}
interface Packed16Spec {
  kind: 'packed16';
  bytesPerPixel: 2;
  greenBits: 5 | 6;
  bigEndian: boolean;
}
interface PlanarSpec {
  kind: 'yuv420p';
  bytesPerPixel: 1;
}
export type FormatSpec = PackedSpec | Packed16Spec | PlanarSpec;

export const FORMAT_SPECS: Readonly<Record<PixelFormat, FormatSpec>> = {
  gray8: { kind: 'packed', bytesPerPixel: 1, r: 0, g: 0, b: 0 },
  rgb24: { kind: 'packed', bytesPerPixel: 3, r: 0, g: 1, b: 2 },
  bgr24: { kind: 'packed', bytesPerPixel: 3, r: 2, g: 1, b: 0 },
  rgba: { kind: 'packed', bytesPerPixel: 4, r: 0, g: 1, b: 2 },
  bgra: { kind: 'packed', bytesPerPixel: 4, r: 2, g: 1, b: 0 },
  argb: { kind: 'packed', bytesPerPixel: 4, r: 1, g: 2, b: 3 },
  abgr: { kind: 'packed', bytesPerPixel: 4, r: 3, g: 2, b: 1 },
  rgb565be: { kind: 'packed16', bytesPerPixel: 2, greenBits: 6, bigEndian: true },
  rgb565le: { kind: 'packed16', bytesPerPixel: 2, greenBits: 6, bigEndian: false },
  rgb555be: { kind: 'packed16', bytesPerPixel: 2, greenBits: 5, bigEndian: true },
  rgb555le: { kind: 'packed16', bytesPerPixel: 2, greenBits: 5, bigEndian: false },
  yuv420p: { kind: 'yuv420p', bytesPerPixel: 1 },
};

/** Default bytes per row of a raw frame: width x bytes per pixel (the Y plane's for yuv420p). */
function defaultStride(format: PixelFormat, width: number): number {
  return width * FORMAT_SPECS[format].bytesPerPixel;
}

/**
 * Bytes a raw frame occupies. yuv420p: Y rows of `stride` bytes, then U and V planes of ceil(h/2) rows of
 * ceil(stride/2) bytes each (the layout ffmpeg and GStreamer use for contiguous I420).
 */
export function rawFrameBytes(format: RawFormat, width: number, height: number, stride?: number): number {
  const rowBytes = stride ?? defaultStride(format, width);
  if (format === 'yuv420p') return rowBytes * height + 2 * Math.ceil(rowBytes / 2) * Math.ceil(height / 2);
  return rowBytes * height;
}
