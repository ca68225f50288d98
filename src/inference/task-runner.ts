/**
 * What happens to one frame once it is off the HTTP front end: decode, process, validate, filter, serialise (or
 * draw). Shared by worker threads (worker.ts) and the event-loop executor (executor.ts), so both answer
 * identically. Errors leave as plain {code, message} outcomes, never as thrown class instances.
 */
import { performance } from 'node:perf_hooks';
import type { FrameRequirements } from '../contract/frame.js';
import type { Processor, ProcessorDefinition } from '../contract/processor.js';
import { HxError, isHxError } from '../errors.js';
import { processorOptions } from '../processors/options.js';
import { loadProcessor } from '../processors/registry.js';
import type { Inference } from '../schema/inference.js';
import { validateInferences, validator } from '../schema/validate.js';
import { annotate } from './annotate.js';
import { decodeFrame } from './decode.js';
import { applyFilters } from './filters.js';
import type { TaskMessage, TaskOutcome, WorkerProcessorSpec, WorkerTimings } from './messages.js';

interface Loaded {
  definition: ProcessorDefinition;
  instance: Processor;
  needs: FrameRequirements;
}

export type TaskInputs = Pick<TaskMessage, 'key' | 'media' | 'query' | 'filters' | 'requestId' | 'stream' | 'render'>;

export class TaskRunner {
  private readonly loaded: Map<string, Loaded>;

  private constructor(loaded: Map<string, Loaded>) {
    this.loaded = loaded;
  }

  /**
   * Loads every processor once. Routes with the same processor and options (e.g. /detect and /annotate) share one
   * instance: one model in memory. Stateful processors are not shared: each route keeps its own per-stream state.
   */
  static async load(processors: readonly WorkerProcessorSpec[], workerId: number): Promise<TaskRunner> {
    validator();
    const loaded = new Map<string, Loaded>();
    const shared = new Map<string, Loaded>();
    for (const spec of processors) {
      const identity = `${spec.moduleUrl}\n${JSON.stringify(spec.options)}`;
      let entry = shared.get(identity);
      if (entry === undefined) {
        const definition = await loadProcessor(spec.moduleUrl);
        const options = processorOptions(definition, spec.options);
        const instance = await definition.create(options, { workerId });
        entry = { definition, instance, needs: definition.frameRequirements?.(options) ?? {} };
        if (definition.stateful !== true) shared.set(identity, entry);
      }
      loaded.set(spec.key, entry);
    }
    return new TaskRunner(loaded);
  }

  /** Runs one frame; never throws: a processor bug is a generic 500 outcome with the stack as `detail`. */
  async run(task: TaskInputs, body: Uint8Array): Promise<{ outcome: TaskOutcome; timings: WorkerTimings }> {
    const timings: WorkerTimings = { decodeMs: 0, processMs: 0, encodeMs: 0 };
    let outcome: TaskOutcome;
    try {
      outcome = await this.execute(task, body, timings);
    } catch (error) {
      if (isHxError(error)) outcome = { ok: false, error: error.toPlain() };
      else {
        outcome = {
          ok: false,
          error: new HxError('HX_ERR_PROCESSOR_FAILED').toPlain(),
          detail: (error as Error)?.stack ?? String(error),
        };
      }
    }
    return { outcome, timings };
  }

  async dispose(): Promise<void> {
    for (const entry of new Set(this.loaded.values())) {
      try {
        await entry.instance.dispose?.();
      } catch {
        // dispose() must not throw; if it does, we are shutting down anyway.
      }
    }
    this.loaded.clear();
  }

  private async execute(task: TaskInputs, body: Uint8Array, timings: WorkerTimings): Promise<TaskOutcome> {
    const entry = this.loaded.get(task.key);
    if (entry === undefined) throw new HxError('HX_ERR_SERVER_INTERNAL', `No processor for ${task.key}`);
    let t = performance.now();
    // An annotated answer is drawn on the frame at the size it was received, so no reduced decode for it.
    const needs = task.render === undefined ? entry.needs : {};
    const frame = await decodeFrame(body, task.media, needs);
    let now = performance.now();
    timings.decodeMs = now - t;
    t = now;
    const inferences = await entry.instance.process(frame, {
      requestId: task.requestId,
      route: task.key,
      query: task.query,
      stream: task.stream,
    });
    now = performance.now();
    timings.processMs = now - t;
    t = now;
    if (!Array.isArray(inferences)) {
      throw new HxError('HX_ERR_PROCESSOR_INVALID_OUTPUT', `${entry.definition.name} returned ${typeof inferences}`);
    }
    const problems = validateInferences(inferences);
    if (problems.length > 0) {
      return {
        ok: false,
        error: new HxError('HX_ERR_PROCESSOR_INVALID_OUTPUT').toPlain(),
        detail: `${entry.definition.name}: ${problems.join('; ')}`,
      };
    }
    const kept = applyFilters(inferences, task.filters);
    const labels = labelsOf(kept);
    if (task.render !== undefined) {
      const jpeg = await annotate(frame, kept);
      // A fresh buffer owned entirely by this thread, so a worker can transfer it back instead of copying it.
      const bytes = new ArrayBuffer(jpeg.byteLength);
      new Uint8Array(bytes).set(jpeg);
      timings.encodeMs = performance.now() - t;
      return {
        ok: true,
        json: undefined,
        image: { mediaType: task.render, bytes },
        inferenceCount: kept.length,
        labels,
      };
    }
    const json = kept.length === 0 ? undefined : JSON.stringify({ inferences: kept });
    timings.encodeMs = performance.now() - t;
    return { ok: true, json, inferenceCount: kept.length, labels };
  }
}

function labelsOf(inferences: Inference[]): Array<[string, string]> {
  return inferences.map((inference) => {
    switch (inference.type) {
      case 'classification':
        return [inference.type, inference.classification.tag.value];
      case 'entity':
        return [inference.type, inference.entity.tag.value];
      case 'event':
        return [inference.type, inference.event.name];
      default:
        return [inference.type, ''];
    }
  });
}
