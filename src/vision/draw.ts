/**
 * Drawing into a packed RGB24 buffer (row stride = width x 3): outlined and filled rectangles and alpha masks (text),
 * clipped to the canvas. Annotated answers are drawn here rather than by rasterising an SVG overlay: a rectangle is
 * a few row fills, where librsvg parses, tessellates and composites a full-frame RGBA layer.
 */

export interface RgbCanvas {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
}

export type Rgb = readonly [number, number, number];

/** An 8-bit coverage mask, row-major, `width` bytes per row. */
export interface AlphaMask {
  readonly width: number;
  readonly height: number;
  readonly alpha: Uint8Array;
}

/** `#rrggbb` to its triplet. */
export function parseHexColour(hex: string): Rgb {
  const value = Number.parseInt(hex.slice(1), 16);
  return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}

/** Integer pixel bounds [x0, x1) x [y0, y1) of a rectangle, clipped to the canvas; undefined when nothing is left. */
function clip(canvas: RgbCanvas, x: number, y: number, w: number, h: number) {
  const x0 = Math.max(0, Math.round(x));
  const y0 = Math.max(0, Math.round(y));
  const x1 = Math.min(canvas.width, Math.round(x + w));
  const y1 = Math.min(canvas.height, Math.round(y + h));
  if (!(x1 > x0 && y1 > y0)) return undefined;
  return { x0, y0, x1, y1 };
}

/** Fills a rectangle with a colour, blended over the canvas at `opacity` (1 = opaque). */
export function fillRect(canvas: RgbCanvas, x: number, y: number, w: number, h: number, colour: Rgb, opacity = 1) {
  const r = clip(canvas, x, y, w, h);
  if (r === undefined) return;
  const { data, width } = canvas;
  const a = Math.round(Math.min(1, Math.max(0, opacity)) * 256);
  const [cr, cg, cb] = colour;
  for (let row = r.y0; row < r.y1; row++) {
    let i = (row * width + r.x0) * 3;
    const end = (row * width + r.x1) * 3;
    if (a === 256) {
      for (; i < end; i += 3) {
        data[i] = cr;
        data[i + 1] = cg;
        data[i + 2] = cb;
      }
    } else {
      for (; i < end; i += 3) {
        data[i] = (data[i]! * (256 - a) + cr * a) >> 8;
        data[i + 1] = (data[i + 1]! * (256 - a) + cg * a) >> 8;
        data[i + 2] = (data[i + 2]! * (256 - a) + cb * a) >> 8;
      }
    }
  }
}

/** The outline of a rectangle, `thickness` pixels wide and centred on its edges (as an SVG stroke is). */
export function strokeRect(
  canvas: RgbCanvas,
  x: number,
  y: number,
  w: number,
  h: number,
  thickness: number,
  colour: Rgb,
) {
  const half = thickness / 2;
  fillRect(canvas, x - half, y - half, w + thickness, thickness, colour);
  fillRect(canvas, x - half, y + h - half, w + thickness, thickness, colour);
  fillRect(canvas, x - half, y + half, thickness, h - thickness, colour);
  fillRect(canvas, x + w - half, y + half, thickness, h - thickness, colour);
}

/** Paints `colour` through a coverage mask whose top-left corner lands on (x, y). */
export function blendMask(canvas: RgbCanvas, mask: AlphaMask, x: number, y: number, colour: Rgb) {
  const left = Math.round(x);
  const top = Math.round(y);
  const { data, width, height } = canvas;
  const [cr, cg, cb] = colour;
  const mx0 = Math.max(0, -left);
  const my0 = Math.max(0, -top);
  const mx1 = Math.min(mask.width, width - left);
  const my1 = Math.min(mask.height, height - top);
  for (let my = my0; my < my1; my++) {
    let m = my * mask.width + mx0;
    let i = ((top + my) * width + left + mx0) * 3;
    for (let mx = mx0; mx < mx1; mx++, m++, i += 3) {
      const a = mask.alpha[m]!;
      if (a === 0) continue;
      const k = a + (a >> 7); // 0-255 to 0-256, so that full coverage is the colour exactly
      data[i] = (data[i]! * (256 - k) + cr * k) >> 8;
      data[i + 1] = (data[i + 1]! * (256 - k) + cg * k) >> 8;
      data[i + 2] = (data[i + 2]! * (256 - k) + cb * k) >> 8;
    }
  }
}
