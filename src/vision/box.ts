import { clamp01, type Rectangle } from '../schema/inference.js';
import type { Placement } from './letterbox.js';

/** A box in model-input pixels, corners. */
export interface PixelBox {
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

/**
 * Maps a box from model-input pixels back to the received image, normalised to 0..1 and clamped so that
 * l+w <= 1 and t+h <= 1 (docs/protocol.md). Returns undefined for a box that is empty once clamped.
 */
export function toSourceBox(box: PixelBox, placement: Placement): Rectangle | undefined {
  const nx = (x: number) => clamp01((x - placement.padLeft) / placement.scaledWidth);
  const ny = (y: number) => clamp01((y - placement.padTop) / placement.scaledHeight);
  return rectangle(
    nx(Math.min(box.x1, box.x2)),
    ny(Math.min(box.y1, box.y2)),
    nx(Math.max(box.x1, box.x2)),
    ny(Math.max(box.y1, box.y2)),
  );
}

/** A normalised rectangle from corners already in 0..1 (clamped again, rounded to 4 decimals). */
export function rectangle(x1: number, y1: number, x2: number, y2: number): Rectangle | undefined {
  const l = round4(clamp01(x1));
  const t = round4(clamp01(y1));
  const w = round4(clamp01(x2) - l);
  const h = round4(clamp01(y2) - t);
  if (!(w > 0 && h > 0)) return undefined;
  // Rounding may push l+w a hair over 1.
  return { l, t, w: Math.min(w, round4(1 - l)), h: Math.min(h, round4(1 - t)) };
}

function round4(v: number): number {
  return Math.round(v * 10_000) / 10_000;
}
