import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { isProcessorDefinition, type ProcessorDefinition } from '../contract/processor.js';
import { HxError } from '../errors.js';
import { hasOnnxRuntime, ONNX_RUNTIME_MISSING } from '../vision/onnx-session.js';

/** Built-in processors by name, as module URLs: workers import them by URL, so nothing is loaded here. */
const BUILT_IN: Readonly<Record<string, string>> = {
  colorIntensity: new URL('./color-intensity/index.js', import.meta.url).href,
  objectDetection: new URL('./object-detection/index.js', import.meta.url).href,
  motion: new URL('./motion/index.js', import.meta.url).href,
  onnx: new URL('./onnx/index.js', import.meta.url).href,
  ocr: new URL('./ocr/index.js', import.meta.url).href,
};

export const BUILT_IN_PROCESSORS = Object.keys(BUILT_IN);

/** Built-in processors that run on ONNX Runtime, an optional dependency. */
const ON_ONNX_RUNTIME: ReadonlySet<string> = new Set(['objectDetection', 'onnx', 'ocr']);

/** Why a built-in processor cannot run in this installation (a missing optional package); undefined: it can. */
export function missingRuntime(spec: string): string | undefined {
  return ON_ONNX_RUNTIME.has(spec) && !hasOnnxRuntime() ? ONNX_RUNTIME_MISSING : undefined;
}

/** A built-in name, or a path (relative to `baseDir`) or file: URL of a module whose default export is a processor. */
export function resolveProcessorUrl(spec: string, baseDir: string = process.cwd()): string {
  const builtIn = BUILT_IN[spec];
  if (builtIn !== undefined) return builtIn;
  if (spec.startsWith('file:')) return spec;
  if (spec.startsWith('.') || spec.startsWith('/') || isAbsolute(spec)) {
    return pathToFileURL(resolve(baseDir, spec)).href;
  }
  throw new HxError(
    'HX_ERR_PROCESSOR_LOAD',
    `Unknown processor "${spec}": use one of ${BUILT_IN_PROCESSORS.join(', ')} or a path to a module (./my-processor.js)`,
  );
}

export async function loadProcessor(url: string): Promise<ProcessorDefinition> {
  let module: { default?: unknown };
  try {
    module = (await import(url)) as { default?: unknown };
  } catch (error) {
    throw new HxError('HX_ERR_PROCESSOR_LOAD', `Processor module ${url} could not be imported: ${String(error)}`, {
      cause: error,
    });
  }
  if (!isProcessorDefinition(module.default)) {
    throw new HxError(
      'HX_ERR_PROCESSOR_LOAD',
      `Processor module ${url} must default-export { name, create() } (and its options' JSON Schema as 'options') (see docs/processors.md)`,
    );
  }
  return module.default;
}
