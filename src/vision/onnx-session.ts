import type * as Ort from 'onnxruntime-node';

export type OrtModule = typeof Ort;
export type OrtSession = Ort.InferenceSession;

let runtime: Promise<OrtModule> | undefined;

/**
 * onnxruntime-node, imported on first use: its native library is loaded only in workers that run an ONNX model.
 * The CPU runtime ships inside the npm package (its install script only fetches optional CUDA binaries).
 */
export function onnxRuntime(): Promise<OrtModule> {
  runtime ??= import('onnxruntime-node').then((m) => {
    const loaded = m as unknown as OrtModule & { default?: OrtModule };
    return loaded.default ?? loaded;
  });
  return runtime;
}

/**
 * One session per worker and model, `threads` intra-op threads (1 by default: parallelism comes from workers,
 * measured faster on this workload than one session with several threads).
 */
export async function createSession(path: string, threads: number): Promise<OrtSession> {
  const ort = await onnxRuntime();
  return ort.InferenceSession.create(path, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
}
