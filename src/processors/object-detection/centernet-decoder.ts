import type { Detection } from '../../vision/nms.js';

/** CenterNet's raw outputs, channels first: one heat-map plane per class, four box distances per cell. */
export interface HeatMaps {
  /** classes x gridHeight x gridWidth scores in 0..1. */
  heatmap: Float32Array;
  /** 4 x gridHeight x gridWidth: distances from the cell's point to the left, top, right and bottom edges. */
  wh: Float32Array;
  classes: number;
  gridWidth: number;
  gridHeight: number;
  /** Input pixels per cell. */
  stride: number;
}

/**
 * CenterNet decoding: a detection is a heat-map peak (a cell whose score is the maximum of its 3x3 neighbourhood in
 * the same class plane, the model's own per-class suppression), at least `minScore`; its box is the cell's point
 * (x * stride, y * stride) pushed out by the four regressed distances. The best `maxPeaks` are returned, best first,
 * in input pixels. Only cells above the threshold are compared with their neighbours, so a frame costs one pass over
 * the scores rather than a score per cell and class as an anchor decoder would.
 */
export function decodeCenterNet(maps: HeatMaps, minScore: number, maxPeaks: number): Detection[] {
  const { heatmap, wh, classes, gridWidth: w, gridHeight: h, stride } = maps;
  const plane = w * h;
  const peaks: Array<{ score: number; classIndex: number; cell: number }> = [];
  for (let c = 0; c < classes; c++) {
    const base = c * plane;
    for (let cell = 0; cell < plane; cell++) {
      const score = heatmap[base + cell]!;
      if (score < minScore || !isPeak(heatmap, base, cell, w, h, score)) continue;
      peaks.push({ score, classIndex: c, cell });
    }
  }
  peaks.sort((a, b) => b.score - a.score);
  return peaks.slice(0, maxPeaks).map(({ score, classIndex, cell }) => {
    const px = (cell % w) * stride;
    const py = Math.floor(cell / w) * stride;
    return {
      box: {
        x1: px - wh[cell]!,
        y1: py - wh[plane + cell]!,
        x2: px + wh[2 * plane + cell]!,
        y2: py + wh[3 * plane + cell]!,
      },
      score,
      classIndex,
    };
  });
}

/** Equal to the 3x3 max-pool (SAME padding: cells outside the grid do not count), as the original graph tests it. */
function isPeak(heatmap: Float32Array, base: number, cell: number, w: number, h: number, score: number): boolean {
  const x = cell % w;
  const y = (cell - x) / w;
  for (let dy = -1; dy <= 1; dy++) {
    const yy = y + dy;
    if (yy < 0 || yy >= h) continue;
    for (let dx = -1; dx <= 1; dx++) {
      const xx = x + dx;
      if (xx < 0 || xx >= w || (dx === 0 && dy === 0)) continue;
      if (heatmap[base + yy * w + xx]! > score) return false;
    }
  }
  return true;
}
