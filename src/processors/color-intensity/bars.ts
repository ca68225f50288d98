import { type Frame, luma601, readRowRgb } from '../../inference/frame.js';

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
 */
export function findBars(frame: Frame, barMaxLuma: number): Region {
  const { width, height } = frame;
  const row = new Uint8Array(width * 3);
  const isBar = (o: number): boolean => luma601(row[o]!, row[o + 1]!, row[o + 2]!) <= barMaxLuma;

  // Rows: how many full-bar rows from the top and from the bottom.
  const barRow = (y: number): boolean => {
    readRowRgb(frame, y, row);
    for (let o = 0; o < width * 3; o += 3) if (!isBar(o)) return false;
    return true;
  };
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
    readRowRgb(frame, y, row);
    let l = 0;
    while (l < left && isBar(l * 3)) l++;
    left = l;
    let r = 0;
    while (r < right && r < width - l && isBar((width - 1 - r) * 3)) r++;
    right = r;
  }
  if (!balanced(left, right, width) || left + right >= width) {
    left = 0;
    right = 0;
  }
  return { x: left, y: top, width: width - left - right, height: height - top - bottom };
}

/** Centred padding: both sides have bars, within 2% of the dimension (JPEG ringing blurs the edge by a few pixels). */
function balanced(a: number, b: number, size: number): boolean {
  return a > 0 && b > 0 && Math.abs(a - b) <= Math.max(1, Math.round(size * 0.02));
}
