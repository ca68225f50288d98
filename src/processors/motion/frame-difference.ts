import { type Frame, luma601, readRowRgb } from '../../contract/frame.js';

/** A small grayscale copy of a frame: box-filtered, so sensor noise averages out before differencing. */
export interface Thumbnail {
  width: number;
  height: number;
  luma: Float32Array;
}

/** Downscales to at most `maxWidth` columns by averaging whole blocks of pixels (area resampling). */
export function thumbnail(frame: Frame, maxWidth: number): Thumbnail {
  const width = Math.max(1, Math.min(maxWidth, frame.width));
  const scale = frame.width / width;
  const height = Math.max(1, Math.round(frame.height / scale));
  const sums = new Float32Array(width * height);
  const counts = new Uint32Array(width * height);
  const row = new Uint8Array(frame.width * 3);
  const columnOf = new Uint32Array(frame.width);
  for (let x = 0; x < frame.width; x++) columnOf[x] = Math.min(width - 1, Math.floor(x / scale));
  for (let y = 0; y < frame.height; y++) {
    readRowRgb(frame, y, row);
    const base = Math.min(height - 1, Math.floor((y * height) / frame.height)) * width;
    for (let x = 0, i = 0; x < frame.width; x++, i += 3) {
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
