/**
 * A constant-velocity Kalman filter on a box's centre and size (cx, cy, w, h), as SORT and ByteTrack use (the
 * xywh variant of BoT-SORT: noise scaled by the box's width on x and w, by its height on y and h). With diagonal
 * noise and a motion model that moves each coordinate by its own velocity, the 8-state filter is exactly four
 * independent 2-state filters (value, velocity), which is what this is: a few dozen flops per box per frame.
 *
 * Time is counted in steps of 1/30 s (ByteTrack's tuning is per frame of 30 fps video), so a 10 fps source predicts
 * three steps per frame and the filter behaves the same whatever rate the frames come at.
 */

/** ByteTrack's noise weights: position std = 1/20 of the box size, velocity std = 1/160 (per 1/30 s). */
const POSITION_WEIGHT = 1 / 20;
const VELOCITY_WEIGHT = 1 / 160;
/** 90 kHz ticks per 1/30 s step. */
export const TICKS_PER_STEP = 3000;
/** Boxes never shrink below this (normalised), so a long prediction cannot invert them. */
const MIN_SIZE = 1e-3;

export interface Box {
  l: number;
  t: number;
  w: number;
  h: number;
}

export class KalmanBox {
  /** Values cx, cy, w, h. */
  private readonly x = new Float64Array(4);
  private readonly v = new Float64Array(4);
  /** Per coordinate: variance of the value, covariance value/velocity, variance of the velocity. */
  private readonly p00 = new Float64Array(4);
  private readonly p01 = new Float64Array(4);
  private readonly p11 = new Float64Array(4);

  constructor(box: Box) {
    const z = measurement(box);
    this.x.set(z);
    for (let i = 0; i < 4; i++) {
      const s = this.scale(i);
      this.p00[i] = (2 * POSITION_WEIGHT * s) ** 2;
      this.p11[i] = (10 * VELOCITY_WEIGHT * s) ** 2;
    }
  }

  /** Box width for x and w, height for y and h: the unit the noise is relative to. */
  private scale(i: number): number {
    return Math.max(MIN_SIZE, i % 2 === 0 ? this.x[2]! : this.x[3]!);
  }

  /** Moves the state `steps` steps of 1/30 s ahead (fractions allowed). */
  predict(steps: number): void {
    if (steps <= 0) return;
    for (let i = 0; i < 4; i++) {
      const s = this.scale(i);
      const qPos = (POSITION_WEIGHT * s) ** 2 * steps;
      const qVel = (VELOCITY_WEIGHT * s) ** 2 * steps;
      this.x[i] = this.x[i]! + this.v[i]! * steps;
      this.p00[i] = this.p00[i]! + 2 * steps * this.p01[i]! + steps * steps * this.p11[i]! + qPos;
      this.p01[i] = this.p01[i]! + steps * this.p11[i]!;
      this.p11[i] = this.p11[i]! + qVel;
    }
    for (const i of [2, 3]) {
      if (this.x[i]! < MIN_SIZE) {
        this.x[i] = MIN_SIZE;
        this.v[i] = 0;
      }
    }
  }

  update(box: Box): void {
    const z = measurement(box);
    for (let i = 0; i < 4; i++) {
      const r = (POSITION_WEIGHT * this.scale(i)) ** 2;
      const s = this.p00[i]! + r;
      const k0 = this.p00[i]! / s;
      const k1 = this.p01[i]! / s;
      const innovation = z[i]! - this.x[i]!;
      this.x[i] = this.x[i]! + k0 * innovation;
      this.v[i] = this.v[i]! + k1 * innovation;
      const p01 = this.p01[i]!;
      this.p11[i] = this.p11[i]! - k1 * p01;
      this.p01[i] = (1 - k0) * p01;
      this.p00[i] = (1 - k0) * this.p00[i]!;
    }
  }

  /**
   * Squared Mahalanobis distance of a measured box from the predicted one (4 degrees of freedom): how surprising
   * the box is given how uncertain the prediction has become since the last update (DeepSORT's gating distance).
   */
  mahalanobis(box: Box): number {
    const z = measurement(box);
    let d = 0;
    for (let i = 0; i < 4; i++) {
      const r = (POSITION_WEIGHT * this.scale(i)) ** 2;
      d += (z[i]! - this.x[i]!) ** 2 / (this.p00[i]! + r);
    }
    return d;
  }

  /** A lost track keeps drifting with its position, not its size (ByteTrack zeroes the size velocity). */
  freezeSize(): void {
    this.v[2] = 0;
    this.v[3] = 0;
  }

  box(): Box {
    const [cx, cy, w, h] = this.x as unknown as [number, number, number, number];
    return { l: cx - w / 2, t: cy - h / 2, w, h };
  }
}

function measurement(box: Box): [number, number, number, number] {
  return [box.l + box.w / 2, box.t + box.h / 2, Math.max(MIN_SIZE, box.w), Math.max(MIN_SIZE, box.h)];
}

export function iou(a: Box, b: Box): number {
  const w = Math.min(a.l + a.w, b.l + b.w) - Math.max(a.l, b.l);
  const h = Math.min(a.t + a.h, b.t + b.h) - Math.max(a.t, b.t);
  if (w <= 0 || h <= 0) return 0;
  const inter = w * h;
  return inter / (a.w * a.h + b.w * b.h - inter);
}

/** The box grown by `ratio` of its size on each side (C-BIoU's buffered box: overlaps a fast object's next box). */
export function buffered(box: Box, ratio: number): Box {
  return { l: box.l - box.w * ratio, t: box.t - box.h * ratio, w: box.w * (1 + 2 * ratio), h: box.h * (1 + 2 * ratio) };
}

/** The box clipped to the image; undefined when nothing of it is left inside. */
export function clipped(box: Box): Box | undefined {
  const l = Math.max(0, box.l);
  const t = Math.max(0, box.t);
  const r = Math.min(1, box.l + box.w);
  const b = Math.min(1, box.t + box.h);
  if (r - l <= 1e-6 || b - t <= 1e-6) return undefined;
  return { l, t, w: r - l, h: b - t };
}
