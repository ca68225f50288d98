import { type Frame, luma601, readRowRgb } from '../../contract/frame.js';
import { FORMAT_SPECS } from '../../contract/pixel-format.js';

export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

/**
 * Finds the picture inside the black bars a pipeline adds in `pad` mode (letterbox above/below or pillarbox
 * left/right, centred). A side counts as bars only when the opposite side has bars of about the same size, so a
 * dark sky or a dark wall is not mistaken for padding; a frame that is dark all over has no bars.
 * Only bar pixels and the first picture pixel of each line are read, so a frame without bars costs a few reads.
 */
export function findBars(frame: Frame, barMaxLuma: number): Region {
  const { width, height } = frame;
  const isBar = barTest(frame, barMaxLuma);
  const barRow = rowTest(frame, barMaxLuma, isBar);

  // Rows: how many full-bar rows from the top and from the bottom.
  let top = 0;
  while (top < height && barRow(top)) top++;
  if (top === height) return { x: 0, y: 0, width, height };
  let bottom = 0;
  while (bottom < height - top && barRow(height - 1 - bottom)) bottom++;
  if (!balanced(top, bottom, height)) {
    top = 0;
    bottom = 0;
  }

  // Columns: the bar run every remaining row shares on the left and on the right.
  let left = width;
  let right = width;
  for (let y = top; y < height - bottom && (left > 0 || right > 0); y++) {
    let l = 0;
    while (l < left && isBar(l, y)) l++;
    left = l;
    let r = 0;
    while (r < right && r < width - l && isBar(width - 1 - r, y)) r++;
    right = r;
  }
  if (!balanced(left, right, width) || left + right >= width) {
    left = 0;
    right = 0;
  }
  return { x: left, y: top, width: width - left - right, height: height - top - bottom };
}

/** "Is this whole row bar?": one tight loop over the row's bytes for packed formats (the common case). */
function rowTest(frame: Frame, barMaxLuma: number, isBar: (x: number, y: number) => boolean): (y: number) => boolean {
  const spec = FORMAT_SPECS[frame.format];
  const { data, offset, stride, width } = frame;
  if (spec.kind !== 'packed') {
    return (y) => {
      for (let x = 0; x < width; x++) if (!isBar(x, y)) return false;
      return true;
    };
  }
  const { bytesPerPixel: n, r, g, b } = spec;
  const limit = barMaxLuma * 1000;
  const allBytesAreChannels = n !== 4;
  return (y) => {
    const start = offset + y * stride;
    const end = start + width * n;
    if (allBytesAreChannels) {
      // Padding is usually pure black: if no byte of the row exceeds the limit, no pixel's luma can (luma is a
      // weighted mean of the channels). One OR per byte, no branch, decides most bar rows.
      let any = 0;
      for (let i = start; i < end; i++) any |= data[i]!;
      if (any <= barMaxLuma) return true;
    }
    for (let i = start; i < end; i += n) {
      if (299 * data[i + r]! + 587 * data[i + g]! + 114 * data[i + b]! > limit) return false;
    }
    return true;
  };
}

/** A per-pixel "is this bar?" test: direct byte reads for packed formats, a converted row cache for the others. */
function barTest(frame: Frame, barMaxLuma: number): (x: number, y: number) => boolean {
  const spec = FORMAT_SPECS[frame.format];
  const { data, offset, stride } = frame;
  // Integer BT.601 weights (x1000), as in the mean.
  const limit = barMaxLuma * 1000;
  if (spec.kind === 'packed') {
    const { bytesPerPixel: n, r, g, b } = spec;
    return (x, y) => {
      const i = offset + y * stride + x * n;
      return 299 * data[i + r]! + 587 * data[i + g]! + 114 * data[i + b]! <= limit;
    };
  }
  const row = new Uint8Array(frame.width * 3);
  let cached = -1;
  return (x, y) => {
    if (y !== cached) {
      readRowRgb(frame, y, row);
      cached = y;
    }
    return luma601(row[x * 3]!, row[x * 3 + 1]!, row[x * 3 + 2]!) * 1000 <= limit;
  };
}

/** Centred padding: both sides have bars, within 2% of the dimension (JPEG ringing blurs the edge by a few pixels). */
function balanced(a: number, b: number, size: number): boolean {
  return a > 0 && b > 0 && Math.abs(a - b) <= Math.max(1, Math.round(size * 0.02));
}
