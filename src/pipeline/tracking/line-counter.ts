/**
 * Counting crossings of one line by tracked objects. The point tested is the centre of the object's box. An object
 * is on a side once it is more than `DEAD_BAND` (normalised) from the line, so a box jittering on the line is not
 * counted again and again; a crossing is a change of side along a path that passes through the line segment itself
 * (walking round its end is not a crossing). Each crossing of each tracked object counts once.
 *
 * Direction: the sense in which the vector from the line's start point to the object turns as the object crosses,
 * as seen on the image (y pointing down). For the vendor's sample line [[0.5,0.1],[0.5,0.9]] (top to bottom), an
 * object moving left to right crosses counterclockwise, right to left clockwise. Equivalently: crossing from the
 * right-hand side of the line (standing on the start point, facing the end) to its left-hand side is counterclockwise.
 */

export type Point = readonly [number, number];
export type Direction = 'clockwise' | 'counterclockwise';

export interface LineCrossing {
  direction: Direction;
  clockwiseTotal: number;
  counterclockwiseTotal: number;
  total: number;
}

/** 0.5% of the frame: more than a detector's box jitter on a still object, less than a step of anything moving. */
const DEAD_BAND = 0.005;
/** Per-object state is dropped after this much media time unseen (a tracker never brings an id back). */
const FORGET_TICKS = 60 * 90_000;

interface ObjectState {
  /** The last point seen clearly on one side, and that side (+1 / -1 by the sign of the cross product). */
  anchor: Point;
  side: 1 | -1;
  seen: number;
}

export class LineCounter {
  clockwiseTotal = 0;
  counterclockwiseTotal = 0;
  private readonly objects = new Map<string, ObjectState>();
  private readonly length: number;

  constructor(
    readonly start: Point,
    readonly end: Point,
  ) {
    this.length = Math.hypot(end[0] - start[0], end[1] - start[1]);
  }

  /** Signed distance of `p` from the line (positive on the right-hand side looking from start to end, y down). */
  private distance(p: Point): number {
    const [sx, sy] = this.start;
    const [ex, ey] = this.end;
    return ((ex - sx) * (p[1] - sy) - (ey - sy) * (p[0] - sx)) / this.length;
  }

  /** Whether the path a -> b meets the line within the segment (not beyond either end). */
  private meets(a: Point, b: Point): boolean {
    const da = this.distance(a);
    const db = this.distance(b);
    if (da === db) return false;
    const k = da / (da - db);
    const x = a[0] + k * (b[0] - a[0]);
    const y = a[1] + k * (b[1] - a[1]);
    const [sx, sy] = this.start;
    const [ex, ey] = this.end;
    const along = ((x - sx) * (ex - sx) + (y - sy) * (ey - sy)) / (this.length * this.length);
    return along >= 0 && along <= 1;
  }

  /** Feeds one object's position at `pts90k`; returns the crossing it made, if it made one. */
  observe(objectId: string, p: Point, pts90k: number): LineCrossing | undefined {
    const d = this.distance(p);
    const state = this.objects.get(objectId);
    if (Math.abs(d) <= DEAD_BAND) {
      if (state !== undefined) state.seen = pts90k;
      return undefined;
    }
    const side: 1 | -1 = d > 0 ? 1 : -1;
    if (state === undefined) {
      this.objects.set(objectId, { anchor: p, side, seen: pts90k });
      this.forget(pts90k);
      return undefined;
    }
    state.seen = pts90k;
    if (side === state.side) {
      state.anchor = p;
      return undefined;
    }
    const through = this.meets(state.anchor, p);
    state.anchor = p;
    state.side = side;
    if (!through) return undefined;
    // Right-hand side (+) to left (-) turns the start->object vector counterclockwise on screen.
    const direction: Direction = side === -1 ? 'counterclockwise' : 'clockwise';
    if (direction === 'clockwise') this.clockwiseTotal++;
    else this.counterclockwiseTotal++;
    return {
      direction,
      clockwiseTotal: this.clockwiseTotal,
      counterclockwiseTotal: this.counterclockwiseTotal,
      total: this.clockwiseTotal + this.counterclockwiseTotal,
    };
  }

  private forget(now: number): void {
    for (const [id, state] of this.objects) if (now - state.seen > FORGET_TICKS) this.objects.delete(id);
  }
}
