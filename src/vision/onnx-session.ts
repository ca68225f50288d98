import type * as Ort from 'onnxruntime-node';
import { HxError } from '../errors.js';

export type OrtModule = typeof Ort;
export type OrtSession = Ort.InferenceSession;

/**
 * Execution providers a user may name (onnxruntime-node's names). Only `cpu` and `webgpu` are inside the npm
 * package; `cuda` and `tensorrt` need the package's CUDA binaries (docs/processors.md, "Execution providers"), the
 * others are other platforms' builds.
 */
export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'tensorrt', 'webgpu', 'dml', 'coreml', 'qnn'] as const;
export type ExecutionProvider = (typeof EXECUTION_PROVIDERS)[number];

/** JSON Schema of an `executionProviders` option: a non-empty list of known providers. */
export const EXECUTION_PROVIDERS_SCHEMA = {
  type: 'array',
  minItems: 1,
  uniqueItems: true,
  items: { enum: EXECUTION_PROVIDERS },
} as const;

export interface SessionSettings {
  /** Intra-op threads of this session (per worker). */
  threads: number;
  /** In order of preference; ONNX Runtime places each node on the first that supports it. Default `['cpu']`. */
  executionProviders?: readonly ExecutionProvider[];
}

let runtime: Promise<OrtModule> | undefined;

/** What to do when onnxruntime-node is absent: it is an optional dependency (docs/processors.md, "ONNX Runtime"). */
export const ONNX_RUNTIME_MISSING =
  'onnxruntime-node is not installed (an optional dependency: npm drops it when its install script cannot fetch ' +
  'its CUDA binaries); install it with `npm install onnxruntime-node --onnxruntime-node-install=skip`';

/**
 * onnxruntime-node, imported on first use: its native library is loaded only in workers that run an ONNX model.
 * The CPU runtime ships inside the npm package (its install script only fetches optional CUDA binaries).
 */
export function onnxRuntime(): Promise<OrtModule> {
  runtime ??= import('onnxruntime-node').then(
    (m) => {
      const loaded = m as unknown as OrtModule & { default?: OrtModule };
      return loaded.default ?? loaded;
    },
    (error: unknown) => {
      if ((error as { code?: string }).code !== 'ERR_MODULE_NOT_FOUND') throw error;
      throw new HxError('HX_ERR_PROCESSOR_LOAD', ONNX_RUNTIME_MISSING, { cause: error });
    },
  );
  return runtime;
}

/** Whether onnxruntime-node can be imported from here, without loading its native library. */
export function hasOnnxRuntime(): boolean {
  try {
    import.meta.resolve('onnxruntime-node');
    return true;
  } catch {
    return false;
  }
}

/**
 * One session per worker and model. Graph optimisation `all` (layout and operator fusions: several times faster than
 * `basic` on the CenterNet, see BENCHMARKS.md); one intra-op thread by default, because parallelism comes from
 * workers; sequential execution (a second inter-op thread gained nothing). A provider that cannot be loaded fails the
 * session, so the boot, with the provider named: a silent fall-back to CPU would hide a GPU that is not being used.
 */
export async function createSession(
  model: string | Uint8Array,
  settings: SessionSettings | number,
): Promise<OrtSession> {
  const { threads, executionProviders = ['cpu'] } = typeof settings === 'number' ? { threads: settings } : settings;
  const ort = await onnxRuntime();
  // onnxruntime's JS layer would drop a provider its build lacks with a console warning and carry on with the rest.
  const built = ort.listSupportedBackends().map((b) => b.name);
  const absent = executionProviders.filter((p) => !built.includes(p));
  if (absent.length > 0) {
    throw new HxError(
      'HX_ERR_PROCESSOR_LOAD',
      `executionProviders ${JSON.stringify(executionProviders)}: this onnxruntime-node has no ${absent.join(', ')} ` +
        `(it has ${built.join(', ')}; see docs/processors.md, "Execution providers")`,
    );
  }
  const options: Ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
    executionProviders: [...executionProviders],
  };
  try {
    return typeof model === 'string'
      ? await ort.InferenceSession.create(model, options)
      : await ort.InferenceSession.create(model, options);
  } catch (error) {
    if (executionProviders.every((p) => p === 'cpu')) throw error;
    // cuda and tensorrt are listed but need libraries from outside the npm package: loading them fails here.
    throw new HxError(
      'HX_ERR_PROCESSOR_LOAD',
      `executionProviders ${JSON.stringify(executionProviders)}: ONNX Runtime could not start a session: ` +
        `${(error as Error).message} (see docs/processors.md, "Execution providers")`,
      { cause: error },
    );
  }
}
