import { HxError } from '../errors.js';
import { loadProcessor, resolveProcessorUrl } from '../processors/registry.js';
import type { WorkerProcessorSpec } from './messages.js';
import { type TaskInput, type TaskResult, WorkerPool } from './pool.js';

export interface EngineRoute {
  path: string;
  processor: string;
  options: Record<string, unknown>;
}

export interface EngineOptions {
  routes: readonly EngineRoute[];
  workers: number;
  maxQueuedRequests: number;
  /** Where relative processor paths are resolved from (the config file's folder, else the working directory). */
  baseDir?: string;
  workerUrl?: URL;
}

export interface InferenceOutcome {
  /** Serialised `{"inferences":[...]}`, or undefined for "no result". */
  json: string | undefined;
  inferenceCount: number;
  labels: Array<[string, string]>;
  timings: { queueMs: number; decodeMs: number; processMs: number; encodeMs: number };
  processor: string;
}

/**
 * The protocol-neutral core: routes keys to processors and runs frames through the worker pool. Knows nothing of
 * HTTP; the front end gives it bytes plus what it learned from the headers, and maps its HxErrors to responses.
 */
export class InferenceEngine {
  readonly pool: WorkerPool;
  private readonly processorByKey: ReadonlyMap<string, string>;

  private constructor(pool: WorkerPool, processorByKey: Map<string, string>) {
    this.pool = pool;
    this.processorByKey = processorByKey;
  }

  /**
   * Loads every processor on the main thread and validates its options, reporting every problem at once, so a bad
   * config fails the boot instead of the first request. Workers are not started yet.
   */
  static async prepare(options: EngineOptions): Promise<InferenceEngine> {
    const problems: string[] = [];
    const specs: WorkerProcessorSpec[] = [];
    const names = new Map<string, string>();
    for (const route of options.routes) {
      try {
        const moduleUrl = resolveProcessorUrl(route.processor, options.baseDir);
        const definition = await loadProcessor(moduleUrl);
        definition.parseOptions(route.options);
        specs.push({ key: route.path, moduleUrl, options: route.options });
        names.set(route.path, definition.name);
      } catch (error) {
        problems.push(`route ${route.path} (${route.processor}): ${(error as Error).message}`);
      }
    }
    if (problems.length > 0) {
      throw new HxError('HX_ERR_CONFIG_INVALID', `Invalid processor configuration:\n  - ${problems.join('\n  - ')}`);
    }
    const pool = new WorkerPool({
      size: options.workers,
      maxQueued: options.maxQueuedRequests,
      processors: specs,
      ...(options.workerUrl ? { workerUrl: options.workerUrl } : {}),
    });
    return new InferenceEngine(pool, names);
  }

  start(): Promise<void> {
    return this.pool.start();
  }

  get ready(): boolean {
    return this.pool.ready;
  }

  processorOf(key: string): string | undefined {
    return this.processorByKey.get(key);
  }

  async infer(input: TaskInput): Promise<InferenceOutcome> {
    const result: TaskResult = await this.pool.run(input);
    if (!result.ok) throw HxError.fromPlain(result.error);
    return {
      json: result.json,
      inferenceCount: result.inferenceCount,
      labels: result.labels,
      timings: { queueMs: result.queueMs, ...result.timings },
      processor: this.processorByKey.get(input.key) ?? input.key,
    };
  }

  close(graceMs = 0): Promise<void> {
    return this.pool.close(graceMs);
  }
}
