/**
 * The public API for processor authors: `import { defineProcessor, toRgb24 } from 'httpextension'`.
 * Everything else is internal and may change.
 */

export type { Frame, FrameRequirements } from './contract/frame.js';
export { luma601, readRowRgb, toRgb24 } from './contract/frame.js';
export type { PixelFormat, RawFormat } from './contract/pixel-format.js';
export {
  defineProcessor,
  type OptionsSchema,
  type Processor,
  type ProcessorContext,
  type ProcessorDefinition,
  type ProcessRequest,
} from './contract/processor.js';
export { ERRORS, type ErrorCode, HxError } from './errors.js';
export { processorOptions } from './processors/options.js';
export type { Inference, InferenceResponse, Rectangle } from './schema/inference.js';
export { clampBox } from './schema/inference.js';
