import type { PixelBox } from './box.js';

export interface Detection {
  box: PixelBox;
  score: number;
  classIndex: number;
}

/** Intersection over union of two corner boxes. */
export function iou(a: PixelBox, b: PixelBox): number {
  const w = Math.min(a.x2, b.x2) - Math.max(a.x1, b.x1);
  const h = Math.min(a.y2, b.y2) - Math.max(a.y1, b.y1);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  const union = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
  return union > 0 ? inter / union : 0;
}

/**
 * Greedy non-maximum suppression: keeps the best-scoring box and drops boxes that overlap it by more than
 * `iouThreshold`, of the same class only, or of any class when `classAgnostic` (a detector that proposes one object
 * under two labels, car and truck). Returns at most `maxDetections`, best first.
 */
export function nonMaxSuppression(
  detections: Detection[],
  iouThreshold: number,
  maxDetections: number,
  classAgnostic = false,
): Detection[] {
  const sorted = [...detections].sort((a, b) => b.score - a.score);
  const kept: Detection[] = [];
  for (const candidate of sorted) {
    if (kept.length >= maxDetections) break;
    const rivals = (k: Detection) => classAgnostic || k.classIndex === candidate.classIndex;
    if (kept.every((k) => !rivals(k) || iou(k.box, candidate.box) <= iouThreshold)) {
      kept.push(candidate);
    }
  }
  return kept;
}
