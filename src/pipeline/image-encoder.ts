import sharp from 'sharp';
import { encodeBmp, encodeRaw } from '../inference/encode.js';
import type { ImageFormatSpec, ScaleSpec } from './topology.js';

/** Where the source frame lies inside the image sent (the whole image except in `pad` mode). */
export interface Placement {
  width: number;
  height: number;
  content: { left: number; top: number; width: number; height: number };
}

export interface EncodedImage {
  body: Uint8Array;
  contentType: string;
  placement: Placement;
}

/**
 * The size of the image sent for a `width x height` frame, as the vendor's scale modes define it:
 * - pad: fit inside WxH keeping the aspect ratio, then black bars (centred) up to exactly WxH;
 * - preserveAspectRatio: fit inside WxH (one side may be smaller); with one dimension given, the other follows
 *   the aspect ratio;
 * - stretch: exactly WxH; a dimension not given keeps the frame's.
 */
export function placementFor(width: number, height: number, scale: ScaleSpec | undefined): Placement {
  const whole = (w: number, h: number): Placement => ({
    width: w,
    height: h,
    content: { left: 0, top: 0, width: w, height: h },
  });
  if (scale === undefined) return whole(width, height);
  const W = scale.width;
  const H = scale.height;
  switch (scale.mode) {
    case 'stretch':
      return whole(W ?? width, H ?? height);
    case 'preserveAspectRatio': {
      const s = Math.min(
        W === undefined ? Number.POSITIVE_INFINITY : W / width,
        H === undefined ? Number.POSITIVE_INFINITY : H / height,
      );
      return whole(
        Math.max(1, Math.min(W ?? Number.MAX_SAFE_INTEGER, Math.round(width * s))),
        Math.max(1, Math.min(H ?? Number.MAX_SAFE_INTEGER, Math.round(height * s))),
      );
    }
    case 'pad': {
      const w = W!;
      const h = H!;
      const s = Math.min(w / width, h / height);
      const cw = Math.max(1, Math.min(w, Math.round(width * s)));
      const ch = Math.max(1, Math.min(h, Math.round(height * s)));
      const left = Math.floor((w - cw) / 2);
      const top = Math.floor((h - ch) / 2);
      return { width: w, height: h, content: { left, top, width: cw, height: ch } };
    }
  }
}

/** The scaled RGB24 pixels of the image sent. */
export async function scaleFrame(
  rgb: Uint8Array,
  width: number,
  height: number,
  placement: Placement,
): Promise<Uint8Array> {
  const c = placement.content;
  if (c.width === width && c.height === height && placement.width === width && placement.height === height) {
    return rgb;
  }
  let image = sharp(rgb, { raw: { width, height, channels: 3 } });
  if (c.width !== width || c.height !== height) image = image.resize(c.width, c.height, { fit: 'fill' });
  if (placement.width !== c.width || placement.height !== c.height) {
    image = image.extend({
      left: c.left,
      top: c.top,
      right: placement.width - c.width - c.left,
      bottom: placement.height - c.height - c.top,
      background: { r: 0, g: 0, b: 0 },
    });
  }
  const { data } = await image.raw().toBuffer({ resolveWithObject: true });
  return data;
}

/** Scales a frame and encodes it in the node's image format, with the Content-Type the node sends. */
export async function encodeFrame(
  rgb: Uint8Array,
  width: number,
  height: number,
  scale: ScaleSpec | undefined,
  format: ImageFormatSpec,
): Promise<EncodedImage> {
  const placement = placementFor(width, height, scale);
  const pixels = await scaleFrame(rgb, width, height, placement);
  const { width: w, height: h } = placement;
  const raw = () => sharp(pixels, { raw: { width: w, height: h, channels: 3 } });
  switch (format.kind) {
    case 'jpeg':
      return {
        body: await raw()
          .jpeg({ quality: Math.max(1, format.quality) })
          .toBuffer(),
        contentType: 'image/jpeg',
        placement,
      };
    case 'png':
      return { body: await raw().png().toBuffer(), contentType: 'image/png', placement };
    case 'bmp':
      return { body: encodeBmp(pixels, w, h), contentType: 'image/bmp', placement };
    case 'raw':
      return {
        body: encodeRaw(pixels, w, h, format.pixelFormat),
        // The vendor never said how a raw frame's geometry travels; our server reads these parameters.
        contentType: `image/x-raw; width=${w}; height=${h}; format=${format.pixelFormat}`,
        placement,
      };
  }
}
