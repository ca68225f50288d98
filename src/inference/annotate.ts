import { type Frame, toRgb24 } from '../contract/frame.js';
import type { Inference, Rectangle } from '../schema/inference.js';
import { blendMask, fillRect, parseHexColour, type Rgb, type RgbCanvas, strokeRect } from '../vision/draw.js';
import { loadSharp } from '../vision/sharp-lazy.js';
import { lineHeight, textMask } from '../vision/text-mask.js';
import { jpegTurbo } from './jpeg-native.js';

export const ANNOTATED_MEDIA_TYPE = 'image/jpeg';

/** Box colours by inference type, chosen to stay visible on street scenes. */
const COLOURS: Readonly<Record<string, Rgb>> = {
  entity: parseHexColour('#00ff00'),
  motion: parseHexColour('#ff00ff'),
  event: parseHexColour('#ffff00'),
  text: parseHexColour('#00ffff'),
};
const WHITE: Rgb = [255, 255, 255];
const BLACK: Rgb = [0, 0, 0];
const PLATE_OPACITY = 0.6;

/**
 * Draws the inferences' boxes and labels on the frame and encodes it as JPEG (the vendor's `POST /annotate`), at the
 * frame's decoded size. Boxes and label plates are drawn straight into an RGB copy of the frame and the labels
 * blended from glyph masks (src/vision/text-mask.ts); the text attached to an OCR region (through
 * relatedInferences) is written as that region's label.
 */
export async function annotate(frame: Frame, inferences: readonly Inference[], quality = 90): Promise<Uint8Array> {
  const { width, height } = frame;
  const canvas: RgbCanvas = { data: toRgb24(frame), width, height };
  const textOf = new Map<string, string>();
  for (const inference of inferences) {
    if (inference.type !== 'text') continue;
    for (const id of inference.relatedInferences ?? []) textOf.set(id, inference.text.value);
  }
  const stroke = Math.max(2, Math.round(Math.min(width, height) / 200));
  const fontSize = Math.max(10, Math.round(Math.min(width, height) / 40));
  const drawn = inferences.flatMap((inference) => {
    const found = boxAndLabel(inference, textOf);
    return found === undefined ? [] : [{ ...found, colour: COLOURS[inference.type] ?? WHITE }];
  });
  const masks = await Promise.all(drawn.map(({ label }) => (label === '' ? undefined : textMask(label, fontSize))));
  for (const [index, { box, colour }] of drawn.entries()) {
    const x = box.l * width;
    const y = box.t * height;
    const w = box.w * width;
    const h = box.h * height;
    strokeRect(canvas, x, y, w, h, stroke, colour);
    const mask = masks[index];
    if (mask === undefined) continue;
    // The label sits on a dark plate above the box (below it at the top edge), readable on any background.
    const plateHeight = lineHeight(fontSize);
    const plateTop = y >= plateHeight ? y - plateHeight : y + h;
    fillRect(canvas, x, plateTop, Math.min(width - x, mask.width + 4), plateHeight, BLACK, PLATE_OPACITY);
    blendMask(canvas, mask, x + 2, plateTop, colour);
  }
  return encodeJpeg(canvas, quality);
}

/** libjpeg-turbo on this thread when the binding is built (no libvips pipeline for a single encode), else sharp. */
export async function encodeJpeg(
  { data, width, height }: RgbCanvas,
  quality: number,
  turbo = jpegTurbo(),
): Promise<Uint8Array> {
  // A binding built before it had an encoder (the source changed, `npm rebuild` not run) has no encode.
  if (typeof turbo?.encode === 'function') return turbo.encode(data, width, height, width * 3, quality);
  const sharp = await loadSharp();
  const jpeg = await sharp(data, { raw: { width, height, channels: 3 } })
    .jpeg({ quality })
    .toBuffer();
  return new Uint8Array(jpeg.buffer, jpeg.byteOffset, jpeg.byteLength);
}

function boxAndLabel(
  inference: Inference,
  textOf: ReadonlyMap<string, string>,
): { box: Rectangle; label: string } | undefined {
  switch (inference.type) {
    case 'entity': {
      const { tag, box } = inference.entity;
      const text = inference.inferenceId === undefined ? undefined : textOf.get(inference.inferenceId);
      const score = tag.confidence === undefined ? '' : ` ${tag.confidence.toFixed(2)}`;
      return { box, label: text ?? `${tag.value}${score}` };
    }
    case 'motion':
      return inference.motion.box === undefined ? undefined : { box: inference.motion.box, label: 'motion' };
    case 'event':
      return inference.event.box === undefined ? undefined : { box: inference.event.box, label: inference.event.name };
    default:
      return undefined;
  }
}
