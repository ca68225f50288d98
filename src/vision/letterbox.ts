import { type Frame, toRgb24 } from '../contract/frame.js';
import { loadSharp } from './sharp-lazy.js';

/**
 * Where an image lies once fitted into a canvas (a model's input, or the image a pipeline sends an extension), so
 * that boxes found on the canvas can be mapped back to the image.
 */
export interface Placement {
  /** Canvas size in pixels. */
  inputWidth: number;
  inputHeight: number;
  /** The image's size on the canvas, and its top-left corner there. */
  scaledWidth: number;
  scaledHeight: number;
  padLeft: number;
  padTop: number;
}

export interface FittedImage {
  /** Packed RGB24, inputWidth x inputHeight. */
  rgb: Uint8Array;
  placement: Placement;
}

export type FitMode = 'letterbox' | 'stretch';

/**
 * Fits a frame into a model input: `letterbox` keeps the aspect ratio and pads (centred, YOLO style), `stretch`
 * fills the input. The exact placement is computed here, not left to sharp's `contain`, so the inverse mapping in
 * `toSourceBox` is exact.
 */
export async function fitFrame(
  frame: Frame,
  width: number,
  height: number,
  mode: FitMode = 'letterbox',
  padValue = 114,
): Promise<FittedImage> {
  return fitRgb(rgbOf(frame), frame.width, frame.height, width, height, mode, padValue);
}

async function fitRgb(
  rgb: Uint8Array,
  srcWidth: number,
  srcHeight: number,
  width: number,
  height: number,
  mode: FitMode = 'letterbox',
  padValue = 114,
): Promise<FittedImage> {
  const placement = placementOf(srcWidth, srcHeight, width, height, mode);
  return { rgb: await placeRgb(rgb, srcWidth, srcHeight, placement, padValue, 'linear'), placement };
}

/**
 * Packed RGB24 of `srcWidth x srcHeight`, resized and padded as `placement` says, in one libvips pipeline (extend
 * runs after resize in sharp's pipeline); the input itself when the placement changes nothing.
 */
export async function placeRgb(
  rgb: Uint8Array,
  srcWidth: number,
  srcHeight: number,
  placement: Placement,
  padValue: number,
  kernel: 'linear' | 'lanczos3',
): Promise<Uint8Array> {
  const { scaledWidth, scaledHeight, padLeft, padTop } = placement;
  const resize = scaledWidth !== srcWidth || scaledHeight !== srcHeight;
  const pad = placement.inputWidth !== scaledWidth || placement.inputHeight !== scaledHeight;
  if (!resize && !pad) return rgb;
  const sharp = await loadSharp();
  let image = sharp(rgb, { raw: { width: srcWidth, height: srcHeight, channels: 3 } });
  if (resize) image = image.resize(scaledWidth, scaledHeight, { fit: 'fill', kernel });
  if (pad) {
    image = image.extend({
      left: padLeft,
      top: padTop,
      right: placement.inputWidth - scaledWidth - padLeft,
      bottom: placement.inputHeight - scaledHeight - padTop,
      background: { r: padValue, g: padValue, b: padValue },
    });
  }
  const out = await image.removeAlpha().raw().toBuffer();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
}

/** The frame's pixels as packed RGB24: in place when the decoder already produced exactly that, else a copy. */
function rgbOf(frame: Frame): Uint8Array {
  const rowBytes = frame.width * 3;
  if (frame.format === 'rgb24' && frame.stride === rowBytes && frame.offset === 0) {
    return frame.data.subarray(0, rowBytes * frame.height);
  }
  return toRgb24(frame);
}

/**
 * `letterbox`: the largest size with the image's aspect ratio that fits the canvas (rounded, at least 1 pixel),
 * centred, odd bars going to the bottom/right; `stretch`: the whole canvas.
 */
export function placementOf(
  srcWidth: number,
  srcHeight: number,
  width: number,
  height: number,
  mode: FitMode,
): Placement {
  if (mode === 'stretch') {
    return { inputWidth: width, inputHeight: height, scaledWidth: width, scaledHeight: height, padLeft: 0, padTop: 0 };
  }
  const scale = Math.min(width / srcWidth, height / srcHeight);
  const scaledWidth = Math.max(1, Math.min(width, Math.round(srcWidth * scale)));
  const scaledHeight = Math.max(1, Math.min(height, Math.round(srcHeight * scale)));
  return {
    inputWidth: width,
    inputHeight: height,
    scaledWidth,
    scaledHeight,
    padLeft: Math.floor((width - scaledWidth) / 2),
    padTop: Math.floor((height - scaledHeight) / 2),
  };
}
