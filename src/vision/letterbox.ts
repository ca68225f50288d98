import sharp from 'sharp';
import { type Frame, toRgb24 } from '../inference/frame.js';

/** How a frame was fitted into a model's input, so that boxes can be mapped back to the received image. */
export interface Placement {
  /** Model input size in pixels. */
  inputWidth: number;
  inputHeight: number;
  /** The image's size inside the input, and its top-left corner there. */
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

export async function fitRgb(
  rgb: Uint8Array,
  srcWidth: number,
  srcHeight: number,
  width: number,
  height: number,
  mode: FitMode = 'letterbox',
  padValue = 114,
): Promise<FittedImage> {
  const placement = placementOf(srcWidth, srcHeight, width, height, mode);
  const right = width - placement.scaledWidth - placement.padLeft;
  const bottom = height - placement.scaledHeight - placement.padTop;
  // One libvips pipeline: resize, then pad (extend runs after resize in sharp's pipeline).
  const out = await sharp(rgb, { raw: { width: srcWidth, height: srcHeight, channels: 3 } })
    .resize(placement.scaledWidth, placement.scaledHeight, { fit: 'fill', kernel: 'linear' })
    .extend({
      left: placement.padLeft,
      top: placement.padTop,
      right,
      bottom,
      background: { r: padValue, g: padValue, b: padValue },
    })
    .removeAlpha()
    .raw()
    .toBuffer();
  return { rgb: new Uint8Array(out.buffer, out.byteOffset, out.byteLength), placement };
}

/** The frame's pixels as packed RGB24: in place when the decoder already produced exactly that, else a copy. */
export function rgbOf(frame: Frame): Uint8Array {
  const rowBytes = frame.width * 3;
  if (frame.format === 'rgb24' && frame.stride === rowBytes && frame.offset === 0) {
    return frame.data.subarray(0, rowBytes * frame.height);
  }
  return toRgb24(frame);
}

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
