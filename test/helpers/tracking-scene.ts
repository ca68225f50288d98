import { spawn } from 'node:child_process';
import { findFfmpeg } from '../../src/pipeline/ffmpeg.js';

/**
 * A generated traffic scene with known ground truth, for the tracker and the line counter: coloured 40x40 boxes on a
 * grey 320x240 background at 10 fps, moving along piecewise-linear paths (x of the box's left edge at given
 * seconds, held before the first and after the last keyframe). The line is the vendor's sample line
 * [[0.5,0.1],[0.5,0.9]] (x = 160 from y = 24 to 216). What happens, by design:
 *
 * - red (y 30): left to right across the line (t 4.2 s, counterclockwise), stops 7..9 s, back across (11.7 s,
 *   clockwise), stops.
 * - blue (y 90) and green (y 110) pass each other at t 1.5 s (blue drawn over green: green half hidden); blue leaves
 *   on the right (gone from 4.3 s), re-enters at 7 s moving left, passes green again near 11.3 s, crosses the line
 *   (12.1 s, clockwise) and stops.
 * - green crosses leftwards (4.7 s, clockwise), stops 6.5..8.5 s, crosses back (10.3 s, counterclockwise), stops.
 *
 * So 3 clockwise and 2 counterclockwise crossings. The detector double (test/doubles/colour-boxes.ts) finds each
 * colour's pixels and reports them all as "car": the tracker cannot tell the boxes apart by colour.
 */

export interface SceneObject {
  name: string;
  rgb: readonly [number, number, number];
  y: number;
  /** [seconds, x of the left edge]. */
  path: readonly (readonly [number, number])[];
}

export const SCENE = {
  width: 320,
  height: 240,
  fps: 10,
  seconds: 16,
  size: 40,
  /** Drawing order: later objects hide earlier ones. */
  objects: [
    {
      name: 'red',
      rgb: [230, 30, 30],
      y: 30,
      path: [
        [0, 20],
        [7, 220],
        [9, 220],
        [15, 40],
      ],
    },
    {
      name: 'green',
      rgb: [30, 220, 30],
      y: 110,
      path: [
        [0, 280],
        [6.5, 85],
        [8.5, 85],
        [12.5, 205],
      ],
    },
    {
      name: 'blue',
      rgb: [30, 30, 230],
      y: 90,
      path: [
        [0, 190],
        [4.4, 322],
        [7, 322],
        [7.01, 320],
        [13.3, 100],
      ],
    },
  ] satisfies SceneObject[] as readonly SceneObject[],
  line: { start: [0.5, 0.1], end: [0.5, 0.9] } as const,
  crossings: { clockwise: 3, counterclockwise: 2 },
} as const;

export function xAt(object: SceneObject, seconds: number): number {
  const path = object.path;
  if (seconds <= path[0]![0]) return path[0]![1];
  for (let i = 1; i < path.length; i++) {
    const [t1, x1] = path[i]!;
    const [t0, x0] = path[i - 1]!;
    if (seconds <= t1) return x0 + ((x1 - x0) * (seconds - t0)) / (t1 - t0);
  }
  return path[path.length - 1]![1];
}

export const FRAMES = SCENE.fps * SCENE.seconds;

export interface TruthBox {
  /** The object's name: one identity for the whole scene, also across leaving and coming back. */
  id: string;
  box: { l: number; t: number; w: number; h: number };
  /** Fraction of the box visible (inside the frame and not hidden by an object drawn after it). */
  visibility: number;
}

function overlapArea(a: Rect, b: Rect): number {
  const w = Math.min(a.r, b.r) - Math.max(a.l, b.l);
  const h = Math.min(a.b, b.b) - Math.max(a.t, b.t);
  return w > 0 && h > 0 ? w * h : 0;
}

interface Rect {
  l: number;
  t: number;
  r: number;
  b: number;
}

function rects(frame: number): Rect[] {
  const t = frame / SCENE.fps;
  return SCENE.objects.map((o) => {
    const l = Math.round(xAt(o, t));
    return { l, t: o.y, r: l + SCENE.size, b: o.y + SCENE.size };
  });
}

/**
 * The ground truth of a frame: each object with at least a quarter of it visible (the MOT convention of leaving
 * out objects a detector cannot be asked to see), its box clipped to the frame, normalised.
 */
export function truth(frame: number, minVisibility = 0.25): TruthBox[] {
  const all = rects(frame);
  const frameRect: Rect = { l: 0, t: 0, r: SCENE.width, b: SCENE.height };
  const out: TruthBox[] = [];
  all.forEach((rect, i) => {
    const area = SCENE.size * SCENE.size;
    const inside = overlapArea(rect, frameRect);
    // Objects drawn later hide this one; the boxes above do not overlap each other in this scene.
    const clippedRect = {
      l: Math.max(0, rect.l),
      t: rect.t,
      r: Math.min(SCENE.width, rect.r),
      b: rect.b,
    };
    let hidden = 0;
    for (const above of all.slice(i + 1)) hidden += overlapArea(clippedRect, above);
    const visibility = Math.max(0, inside - hidden) / area;
    if (visibility < minVisibility || inside === 0) return;
    out.push({
      id: SCENE.objects[i]!.name,
      box: {
        l: clippedRect.l / SCENE.width,
        t: clippedRect.t / SCENE.height,
        w: (clippedRect.r - clippedRect.l) / SCENE.width,
        h: (clippedRect.b - clippedRect.t) / SCENE.height,
      },
      visibility,
    });
  });
  return out;
}

export function renderFrame(frame: number): Buffer {
  const { width, height } = SCENE;
  const rgb = Buffer.alloc(width * height * 3, 0x60);
  rects(frame).forEach((rect, i) => {
    const colour = SCENE.objects[i]!.rgb;
    for (let y = Math.max(0, rect.t); y < Math.min(height, rect.b); y++) {
      for (let x = Math.max(0, rect.l); x < Math.min(width, rect.r); x++) rgb.set(colour, (y * width + x) * 3);
    }
  });
  return rgb;
}

/** Writes the scene as H.264 (a keyframe a second, as cameras send): raw frames piped into ffmpeg. */
export function writeSceneVideo(path: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(findFfmpeg(), [
      '-hide_banner',
      '-loglevel',
      'error',
      '-f',
      'rawvideo',
      '-pix_fmt',
      'rgb24',
      '-s',
      `${SCENE.width}x${SCENE.height}`,
      '-r',
      String(SCENE.fps),
      '-i',
      'pipe:0',
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-pix_fmt',
      'yuv420p',
      '-g',
      String(SCENE.fps),
      '-y',
      path,
    ]);
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (t: string) => (stderr += t));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}: ${stderr}`))));
    child.stdin.on('error', reject);
    (async () => {
      for (let i = 0; i < FRAMES; i++) {
        if (!child.stdin.write(renderFrame(i))) await new Promise((r) => child.stdin.once('drain', r));
      }
      child.stdin.end();
    })().catch(reject);
  });
}

/** Crossings of the scene's vertical line by the box centres, counted from the paths (independent of the runner). */
export function truthCrossings(): { clockwise: number; counterclockwise: number } {
  const lineX = SCENE.line.start[0] * SCENE.width;
  let clockwise = 0;
  let counterclockwise = 0;
  for (const o of SCENE.objects) {
    let side: number | undefined;
    for (let f = 0; f < FRAMES; f++) {
      const cx = xAt(o, f / SCENE.fps) + SCENE.size / 2;
      if (cx - SCENE.size / 2 >= SCENE.width) {
        side = undefined; // out of sight: coming back is not a crossing
        continue;
      }
      const s = Math.sign(cx - lineX);
      if (s === 0) continue;
      // Line from top to bottom: left to right is counterclockwise (docs/pipeline.md).
      if (side !== undefined && s !== side) {
        if (s > 0) counterclockwise++;
        else clockwise++;
      }
      side = s;
    }
  }
  return { clockwise, counterclockwise };
}
