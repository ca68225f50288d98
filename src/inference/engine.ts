import { HxError } from '../errors.js';
import { loadProcessor, resolveProcessorUrl } from '../processors/registry.js';
import { parseFilters } from './filters.js';
import { InlinePool } from './inline-pool.js';
import type { WorkerProcessorSpec } from './messages.js';
import { type TaskInput, type TaskPool, type TaskResult, WorkerPool } from './pool.js';

export interface EngineRoute {
  path: string;
  processor: string;
  options: Record<string, unknown>;
}

export interface EngineOptions {
  routes: readonly EngineRoute[];
  workers: number;
  /** 'workers': frames run on a pool of `workers` threads; 'inline': on the calling thread (see InlinePool). */
  execution?: 'workers' | 'inline';
  maxQueuedRequests: number;
  /** Where relative processor paths are resolved from (the config file's folder, else the working directory). */
  baseDir?: string;
  workerUrl?: URL;
}

export interface InferenceOutcome {
  /** Serialised `{"inferences":[...]}`, or undefined for "no result". */
  json: string | undefined;
  /** The annotated frame, when the task asked for `render`. */
  image?: { mediaType: string; bytes: Uint8Array };
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
  readonly pool: TaskPool;
  private readonly processorByKey: ReadonlyMap<string, string>;
  /** Route keys whose processor keeps per-stream state: their tasks are pinned to a worker by stream. */
  private readonly statefulKeys: ReadonlySet<string>;

  private constructor(pool: TaskPool, processorByKey: Map<string, string>, statefulKeys: Set<string>) {
    this.pool = pool;
    this.processorByKey = processorByKey;
    this.statefulKeys = statefulKeys;
  }

  /**
   * Loads every processor on the main thread and validates its options, reporting every problem at once, so a bad
   * config fails the boot instead of the first request. Workers are not started yet.
   */
  static async prepare(options: EngineOptions): Promise<InferenceEngine> {
    const problems: string[] = [];
    const specs: WorkerProcessorSpec[] = [];
    const names = new Map<string, string>();
    const stateful = new Set<string>();
    for (const route of options.routes) {
      try {
        const moduleUrl = resolveProcessorUrl(route.processor, options.baseDir);
        const definition = await loadProcessor(moduleUrl);
        definition.parseOptions(route.options);
        specs.push({ key: route.path, moduleUrl, options: route.options });
        names.set(route.path, definition.name);
        if (definition.stateful === true) stateful.add(route.path);
      } catch (error) {
        problems.push(`route ${route.path} (${route.processor}): ${(error as Error).message}`);
      }
    }
    if (problems.length > 0) {
      throw new HxError('HX_ERR_CONFIG_INVALID', `Invalid processor configuration:\n  - ${problems.join('\n  - ')}`);
    }
    const pool: TaskPool =
      options.execution === 'inline'
        ? new InlinePool({ processors: specs, maxQueued: options.maxQueuedRequests })
        : new WorkerPool({
            size: options.workers,
            maxQueued: options.maxQueuedRequests,
            processors: specs,
            ...(options.workerUrl ? { workerUrl: options.workerUrl } : {}),
          });
    return new InferenceEngine(pool, names, stateful);
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

  async infer(input: Omit<TaskInput, 'affinity'>): Promise<InferenceOutcome> {
    // A malformed filter is the client's mistake: answer 400 now rather than after a queue wait.
    parseFilters(input.query);
    const affinity = this.statefulKeys.has(input.key) ? `${input.key}\n${input.stream ?? ''}` : undefined;
    const result: TaskResult = await this.pool.run({ ...input, affinity });
    if (!result.ok) throw HxError.fromPlain(result.error);
    return {
      json: result.json,
      ...(result.image
        ? { image: { mediaType: result.image.mediaType, bytes: new Uint8Array(result.image.bytes) } }
        : {}),
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
