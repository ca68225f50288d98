/** PaddleOCR's DB (differentiable binarisation) text detector: probability map -> text boxes. */

export interface TextBox {
  /** Corners in probability-map pixels, after unclipping. */
  x1: number;
  y1: number;
  x2: number;
  y2: number;
  /** Mean probability inside the region. */
  score: number;
}

export interface DbOptions {
  /** A pixel is text above this probability (PaddleOCR's det_db_thresh). */
  pixelThreshold: number;
  /** A region is kept if its mean probability reaches this (det_db_box_thresh). */
  boxThreshold: number;
  /** How far the shrunk region the model predicts is grown back (det_db_unclip_ratio). */
  unclipRatio: number;
  /** Regions thinner than this, in map pixels, are noise. */
  minSide: number;
}

/**
 * Connected regions of the thresholded map (4-connected), scored by their mean probability and grown by
 * area x ratio / perimeter on every side, as PaddleOCR's unclip does for a rectangle. Boxes are axis-aligned:
 * pipelines' frames are upright, and the protocol's rectangle cannot carry a rotation.
 */
export function detectTextBoxes(map: Float32Array, width: number, height: number, options: DbOptions): TextBox[] {
  const seen = new Uint8Array(width * height);
  const boxes: TextBox[] = [];
  const stack: number[] = [];
  for (let start = 0; start < map.length; start++) {
    if (seen[start] === 1 || map[start]! <= options.pixelThreshold) continue;
    seen[start] = 1;
    stack.push(start);
    let x1 = width;
    let y1 = height;
    let x2 = -1;
    let y2 = -1;
    let sum = 0;
    let count = 0;
    while (stack.length > 0) {
      const i = stack.pop()!;
      const x = i % width;
      const y = (i - x) / width;
      if (x < x1) x1 = x;
      if (x > x2) x2 = x;
      if (y < y1) y1 = y;
      if (y > y2) y2 = y;
      sum += map[i]!;
      count++;
      const neighbours = [
        x > 0 ? i - 1 : -1,
        x < width - 1 ? i + 1 : -1,
        y > 0 ? i - width : -1,
        y < height - 1 ? i + width : -1,
      ];
      for (const j of neighbours) {
        if (j >= 0 && seen[j] === 0 && map[j]! > options.pixelThreshold) {
          seen[j] = 1;
          stack.push(j);
        }
      }
    }
    const w = x2 - x1 + 1;
    const h = y2 - y1 + 1;
    const score = sum / count;
    if (Math.min(w, h) < options.minSide || score < options.boxThreshold) continue;
    const grow = (w * h * options.unclipRatio) / (2 * (w + h));
    boxes.push({
      x1: Math.max(0, x1 - grow),
      y1: Math.max(0, y1 - grow),
      x2: Math.min(width, x2 + 1 + grow),
      y2: Math.min(height, y2 + 1 + grow),
      score,
    });
  }
  // Reading order: top to bottom, then left to right.
  return boxes.sort((a, b) => a.y1 - b.y1 || a.x1 - b.x1);
}
