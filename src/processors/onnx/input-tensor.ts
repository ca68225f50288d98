import type { ModelConfig } from './model-config.js';

/**
 * Packed RGB24 (already fitted to the input size) -> the model's input tensor data: channel order, layout and
 * normalisation as model.json says.
 */
export function toInputData(rgb: Uint8Array, input: ModelConfig['input']): Float32Array | Uint8Array {
  const { width, height } = input;
  const pixels = width * height;
  const order = input.colorOrder === 'RGB' ? [0, 1, 2] : [2, 1, 0];
  const planar = input.layout === 'NCHW';
  const out = input.dtype === 'uint8' ? new Uint8Array(pixels * 3) : new Float32Array(pixels * 3);
  const scale = input.std.map((s) => (input.dtype === 'uint8' ? 1 : 1 / s));
  const shift = input.dtype === 'uint8' ? [0, 0, 0] : input.mean;
  for (let c = 0; c < 3; c++) {
    const source = order[c]!;
    const k = scale[c]!;
    const m = shift[c]!;
    for (let p = 0; p < pixels; p++) {
      const value = (rgb[p * 3 + source]! - m) * k;
      out[planar ? c * pixels + p : p * 3 + c] = value;
    }
  }
  return out;
}

/** The input tensor's shape for the layout. */
export function inputDims(input: ModelConfig['input']): number[] {
  return input.layout === 'NCHW' ? [1, 3, input.height, input.width] : [1, input.height, input.width, 3];
}
