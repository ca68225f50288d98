import { defineProcessor } from '../src/contract/processor.js';
import objectDetection, { detectorProcessor } from '../src/processors/object-detection/index.js';
import { loadTfjsCenterNet } from '../test/helpers/centernet-tfjs.js';

/**
 * objectDetection as it was before ONNX Runtime: the same processor (fit, class-agnostic NMS, boxes) around the
 * CenterNet on TensorFlow.js WASM with the graph's own decoding. Only for comparisons (`npm run bench:processors`,
 * scripts/make-detection-fixture.ts); TensorFlow.js is a development dependency.
 */
export default defineProcessor({
  ...objectDetection,
  name: 'objectDetection@tfjs',
  description: 'objectDetection on TensorFlow.js WASM (the old path, for comparisons).',
  async create(options) {
    const net = await loadTfjsCenterNet(options.modelPath ?? undefined);
    return detectorProcessor(options, net);
  },
});
