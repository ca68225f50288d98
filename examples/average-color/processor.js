// An example processor plug-in: the average colour of the frame, as a classification with a hex colour value.
//
// Serve it without touching the server's code:
//   httpextension -p 5001 --route /color=./examples/average-color/processor.js
//
// A processor module default-exports { name, description, options, create }. Importing it must have no side
// effects; create() runs once per worker thread (load models there); process() runs once per frame.
// Outside this repository, depend on the package and import from 'httpextension' the same way.
import { toRgb24 } from 'httpextension';

/** @typedef {{ precision: number }} Options */

export default {
  name: 'averageColor',
  description: 'Average colour of the frame as #rrggbb, with each channel mean as an attribute.',

  /** The options' JSON Schema: validated at boot on the main thread and in each worker, defaults filled in. */
  options: {
    type: 'object',
    additionalProperties: false,
    properties: { precision: { type: 'integer', minimum: 0, maximum: 6, default: 1 } },
  },

  /** A mean is the same on a reduced image: let the decoder use JPEG DCT scaling on large frames. */
  frameRequirements: () => ({ maxReduction: 4, minReducedPixels: 16384 }),

  /** @param {Options} options */
  create(options) {
    return {
      /**
       * @param {import('httpextension').Frame} frame
       * @param {import('httpextension').ProcessRequest} request
       */
      process(frame, request) {
        // Frames come in whatever layout the client sent (JPEG, BMP rows, 11 raw formats): ask for plain RGB.
        const rgb = toRgb24(frame);
        const sums = [0, 0, 0];
        for (let i = 0; i < rgb.length; i += 3) {
          sums[0] += rgb[i];
          sums[1] += rgb[i + 1];
          sums[2] += rgb[i + 2];
        }
        const pixels = frame.width * frame.height;
        const means = sums.map((sum) => sum / pixels);
        const hex = `#${means.map((m) => Math.round(m).toString(16).padStart(2, '0')).join('')}`;
        // Query parameters reach processors too: ?min=100 answers 204 (no result) for darker frames.
        const min = Number(request.query.min ?? 0);
        if (Math.max(...means) < min) return [];
        return [
          {
            type: 'classification',
            subtype: 'averageColor',
            classification: {
              tag: { value: hex, confidence: 1 },
              attributes: ['red', 'green', 'blue'].map((name, i) => ({
                name,
                value: means[i].toFixed(options.precision),
              })),
            },
          },
        ];
      },
    };
  },
};
