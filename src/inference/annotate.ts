import { type Frame, toRgb24 } from '../contract/frame.js';
import type { Inference, Rectangle } from '../schema/inference.js';
import { loadSharp } from '../vision/sharp-lazy.js';

export const ANNOTATED_MEDIA_TYPE = 'image/jpeg';

/** Box colours by inference type, chosen to stay visible on street scenes. */
const COLOURS: Readonly<Record<string, string>> = {
  entity: '#00ff00',
  motion: '#ff00ff',
  event: '#ffff00',
  text: '#00ffff',
};

/**
 * Draws the inferences' boxes and labels on the frame and encodes it as JPEG (the vendor's `POST /annotate`). The
 * drawing is one SVG overlay composited by sharp, at the frame's decoded size; the text attached to an OCR region
 * (through relatedInferences) is written as that region's label.
 */
export async function annotate(frame: Frame, inferences: readonly Inference[], quality = 90): Promise<Uint8Array> {
  const { width, height } = frame;
  const textOf = new Map<string, string>();
  for (const inference of inferences) {
    if (inference.type !== 'text') continue;
    for (const id of inference.relatedInferences ?? []) textOf.set(id, inference.text.value);
  }
  const stroke = Math.max(2, Math.round(Math.min(width, height) / 200));
  const fontSize = Math.max(10, Math.round(Math.min(width, height) / 40));
  const shapes: string[] = [];
  for (const inference of inferences) {
    const drawn = boxAndLabel(inference, textOf);
    if (drawn === undefined) continue;
    const colour = COLOURS[inference.type] ?? '#ffffff';
    const x = drawn.box.l * width;
    const y = drawn.box.t * height;
    const w = drawn.box.w * width;
    const h = drawn.box.h * height;
    shapes.push(
      `<rect x="${fmt(x)}" y="${fmt(y)}" width="${fmt(w)}" height="${fmt(h)}" fill="none" stroke="${colour}" ` +
        `stroke-width="${stroke}"/>`,
    );
    if (drawn.label !== '') {
      // The label sits on a dark plate above the box (below it at the top edge), readable on any background.
      const plateHeight = fontSize + 4;
      const plateTop = y >= plateHeight ? y - plateHeight : y + h;
      const plateWidth = Math.min(width - x, drawn.label.length * fontSize * 0.6 + 4);
      shapes.push(
        `<rect x="${fmt(x)}" y="${fmt(plateTop)}" width="${fmt(plateWidth)}" height="${plateHeight}" fill="#000000" ` +
          `fill-opacity="0.6"/>`,
        `<text x="${fmt(x + 2)}" y="${fmt(plateTop + fontSize)}" font-family="sans-serif" font-size="${fontSize}" ` +
          `fill="${colour}">${escapeXml(drawn.label)}</text>`,
      );
    }
  }
  const rgb = toRgb24(frame);
  const sharp = await loadSharp();
  let image = sharp(rgb, { raw: { width, height, channels: 3 } });
  if (shapes.length > 0) {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${shapes.join('')}</svg>`;
    image = image.composite([{ input: Buffer.from(svg), top: 0, left: 0 }]);
  }
  const jpeg = await image.jpeg({ quality }).toBuffer();
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

function fmt(v: number): string {
  return v.toFixed(1);
}

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
