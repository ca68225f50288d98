/**
 * The public API for processor authors: `import { defineProcessor, toRgb24 } from 'httpextension'`.
 * Everything else is internal and may change.
 */
export { ERRORS, type ErrorCode, HxError } from './errors.js';
export type { Frame, FrameRequirements } from './inference/frame.js';
export { luma601, readRowRgb, toRgb24 } from './inference/frame.js';
export type { PixelFormat, RawFormat } from './inference/pixel-format.js';
export { processorOptions } from './processors/options.js';
export {
  defineProcessor,
  type OptionsSchema,
  type Processor,
  type ProcessorContext,
  type ProcessorDefinition,
  type ProcessRequest,
} from './processors/processor.js';
export type { Inference, InferenceResponse, Rectangle } from './schema/inference.js';
export { clampBox } from './schema/inference.js';
