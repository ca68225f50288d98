import { type Placement, placementOf, placeRgb } from '../vision/letterbox.js';
import { loadSharp } from '../vision/sharp-lazy.js';
import { encodeBmp, encodeRaw } from './pixel-encoders.js';
import type { ImageFormatSpec, ScaleSpec } from './topology.js';

export interface EncodedImage {
  body: Uint8Array;
  contentType: string;
  /** Where the source frame lies inside the image sent (the whole image except in `pad` mode). */
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
  if (scale === undefined) return placementOf(width, height, width, height, 'stretch');
  const W = scale.width;
  const H = scale.height;
  switch (scale.mode) {
    case 'stretch':
      return placementOf(width, height, W ?? width, H ?? height, 'stretch');
    case 'preserveAspectRatio': {
      const s = Math.min(
        W === undefined ? Number.POSITIVE_INFINITY : W / width,
        H === undefined ? Number.POSITIVE_INFINITY : H / height,
      );
      const w = Math.max(1, Math.min(W ?? Number.MAX_SAFE_INTEGER, Math.round(width * s)));
      const h = Math.max(1, Math.min(H ?? Number.MAX_SAFE_INTEGER, Math.round(height * s)));
      return placementOf(width, height, w, h, 'stretch');
    }
    case 'pad':
      return placementOf(width, height, W!, H!, 'letterbox');
  }
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
  const pixels = await placeRgb(rgb, width, height, placement, 0, 'lanczos3');
  const { inputWidth: w, inputHeight: h } = placement;
  const sharp = await loadSharp();
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
