import { type Frame, luma601, readRowRgb } from '../contract/frame.js';
import type { Rectangle } from '../schema/inference.js';
import { rectangle } from './box.js';

/**
 * Frame differencing on small grayscale thumbnails, with no dependency on where the frames come from: the server's
 * motion processor and the pipeline's MotionDetectionProcessor both build on it (the pipeline must not import the
 * server's modules).
 */

/** A small grayscale copy of a frame: box-filtered, so sensor noise averages out before differencing. */
export interface Thumbnail {
  width: number;
  height: number;
  luma: Float32Array;
}

/** Downscales a frame to at most `maxWidth` columns by averaging whole blocks of pixels (area resampling). */
export function thumbnail(frame: Frame, maxWidth: number): Thumbnail {
  const row = new Uint8Array(frame.width * 3);
  return thumbnailOfRows(frame.width, frame.height, maxWidth, (y) => {
    readRowRgb(frame, y, row);
    return row;
  });
}

/** The same, for tightly packed RGB24 (the pipeline's decoded frames). */
export function thumbnailRgb(rgb: Uint8Array, frameWidth: number, frameHeight: number, maxWidth: number): Thumbnail {
  return thumbnailOfRows(frameWidth, frameHeight, maxWidth, (y) =>
    rgb.subarray(y * frameWidth * 3, (y + 1) * frameWidth * 3),
  );
}

function thumbnailOfRows(
  frameWidth: number,
  frameHeight: number,
  maxWidth: number,
  rowAt: (y: number) => Uint8Array,
): Thumbnail {
  const width = Math.max(1, Math.min(maxWidth, frameWidth));
  const scale = frameWidth / width;
  const height = Math.max(1, Math.round(frameHeight / scale));
  const sums = new Float32Array(width * height);
  const counts = new Uint32Array(width * height);
  const columnOf = new Uint32Array(frameWidth);
  for (let x = 0; x < frameWidth; x++) columnOf[x] = Math.min(width - 1, Math.floor(x / scale));
  for (let y = 0; y < frameHeight; y++) {
    const row = rowAt(y);
    const base = Math.min(height - 1, Math.floor((y * height) / frameHeight)) * width;
    for (let x = 0, i = 0; x < frameWidth; x++, i += 3) {
      const cell = base + columnOf[x]!;
      sums[cell]! += luma601(row[i]!, row[i + 1]!, row[i + 2]!);
      counts[cell]!++;
    }
  }
  for (let i = 0; i < sums.length; i++) sums[i] = sums[i]! / Math.max(1, counts[i]!);
  return { width, height, luma: sums };
}

/** A region that changed, in thumbnail pixels (inclusive corners) with its count of changed pixels. */
export interface ChangedRegion {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  pixels: number;
}

/**
 * Pixels whose luma moved by more than `threshold` levels, dilated by one pixel so a moving object's fragments join,
 * grouped into 8-connected regions. Regions smaller than `minPixels` changed pixels are noise and dropped.
 */
export function changedRegions(
  previous: Thumbnail,
  current: Thumbnail,
  threshold: number,
  minPixels: number,
): ChangedRegion[] {
  const { width, height } = current;
  const changed = new Uint8Array(width * height);
  for (let i = 0; i < changed.length; i++) {
    if (Math.abs(current.luma[i]! - previous.luma[i]!) > threshold) changed[i] = 1;
  }
  const grown = new Uint8Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (changed[y * width + x] === 0) continue;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (nx >= 0 && ny >= 0 && nx < width && ny < height) grown[ny * width + nx] = 1;
        }
      }
    }
  }
  const regions: ChangedRegion[] = [];
  const stack: number[] = [];
  for (let start = 0; start < grown.length; start++) {
    if (grown[start] !== 1) continue;
    grown[start] = 2;
    stack.push(start);
    const region: ChangedRegion = { x1: width, y1: height, x2: -1, y2: -1, pixels: 0 };
    while (stack.length > 0) {
      const i = stack.pop()!;
      const x = i % width;
      const y = (i - x) / width;
      region.x1 = Math.min(region.x1, x);
      region.y1 = Math.min(region.y1, y);
      region.x2 = Math.max(region.x2, x);
      region.y2 = Math.max(region.y2, y);
      region.pixels += changed[i]!;
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if (nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          const j = ny * width + nx;
          if (grown[j] === 1) {
            grown[j] = 2;
            stack.push(j);
          }
        }
      }
    }
    if (region.pixels >= minPixels) regions.push(region);
  }
  return regions.sort((a, b) => b.pixels - a.pixels);
}

/** A region as a normalised box of the frame (undefined if empty once clamped). */
export function regionBox(region: ChangedRegion, thumb: Thumbnail): Rectangle | undefined {
  return rectangle(
    region.x1 / thumb.width,
    region.y1 / thumb.height,
    (region.x2 + 1) / thumb.width,
    (region.y2 + 1) / thumb.height,
  );
}
