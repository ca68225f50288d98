/**
 * Worker-thread entry: loads every processor once, reports ready, then decodes and processes one task at a time.
 * Everything that leaves this thread is a plain object; errors become {code, message}.
 */
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';
import { HxError, isHxError } from '../errors.js';
import type { FrameRequirements } from '../inference/frame.js';
import type { Processor, ProcessorDefinition } from '../processors/processor.js';
import { loadProcessor } from '../processors/registry.js';
import type { Inference } from '../schema/inference.js';
import { validateInferences, validator } from '../schema/validate.js';
import { annotate } from './annotate.js';
import { decodeFrame } from './decode.js';
import { applyFilters, parseFilters } from './filters.js';
import type { TaskMessage, TaskOutcome, WorkerInit, WorkerMessage } from './messages.js';

interface Loaded {
  definition: ProcessorDefinition;
  instance: Processor;
  needs: FrameRequirements;
}

const port = parentPort!;
const init = workerData as WorkerInit;
const loaded = new Map<string, Loaded>();

function post(message: WorkerMessage): void {
  port.postMessage(message);
}

async function start(): Promise<void> {
  try {
    validator();
    // Routes with the same processor and options (e.g. /detect and /annotate) share one instance: one model in memory.
    // Stateful processors are not shared: each route keeps its own per-stream state.
    const shared = new Map<string, Loaded>();
    for (const spec of init.processors) {
      const identity = `${spec.moduleUrl}\n${JSON.stringify(spec.options)}`;
      let entry = shared.get(identity);
      if (entry === undefined) {
        const definition = await loadProcessor(spec.moduleUrl);
        const options = definition.parseOptions(spec.options);
        const instance = await definition.create(options, { workerId: init.workerId });
        entry = { definition, instance, needs: definition.frameRequirements?.(options) ?? {} };
        if (definition.stateful !== true) shared.set(identity, entry);
      }
      loaded.set(spec.key, entry);
    }
  } catch (error) {
    const plain = isHxError(error)
      ? error.toPlain()
      : { code: 'HX_ERR_PROCESSOR_LOAD' as const, message: String(error) };
    post({ type: 'init-failed', error: plain, detail: (error as Error)?.stack ?? String(error) });
    return;
  }
  port.on('message', (message: TaskMessage | { type: 'close' }) => {
    if (message.type === 'close') void close();
    else void run(message);
  });
  post({ type: 'ready' });
}

async function run(task: TaskMessage): Promise<void> {
  const timings = { decodeMs: 0, processMs: 0, encodeMs: 0 };
  let outcome: TaskOutcome;
  try {
    outcome = await execute(task, timings);
  } catch (error) {
    if (isHxError(error)) outcome = { ok: false, error: error.toPlain() };
    else {
      // A processor bug: the client gets a generic 500, the log gets the stack.
      outcome = {
        ok: false,
        error: new HxError('HX_ERR_PROCESSOR_FAILED').toPlain(),
        detail: (error as Error)?.stack ?? String(error),
      };
    }
  }
  const message: WorkerMessage = { type: 'result', id: task.id, timings, ...outcome };
  port.postMessage(message, outcome.ok && outcome.image ? [outcome.image.bytes] : []);
}

async function execute(task: TaskMessage, timings: { decodeMs: number; processMs: number; encodeMs: number }) {
  const entry = loaded.get(task.key);
  if (entry === undefined) throw new HxError('HX_ERR_SERVER_INTERNAL', `No processor for ${task.key}`);
  let t = performance.now();
  // An annotated answer is drawn on the frame at the size it was received, so no reduced decode for it.
  const needs = task.render === undefined ? entry.needs : {};
  const frame = await decodeFrame(new Uint8Array(task.body, 0, task.byteLength), task.media, needs);
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
      ok: false as const,
      error: new HxError('HX_ERR_PROCESSOR_INVALID_OUTPUT').toPlain(),
      detail: `${entry.definition.name}: ${problems.join('; ')}`,
    };
  }
  const kept = applyFilters(inferences, parseFilters(task.query));
  const labels = labelsOf(kept);
  if (task.render !== undefined) {
    const jpeg = await annotate(frame, kept);
    // A fresh buffer that this thread owns entirely, so it can be transferred back instead of copied.
    const bytes = new ArrayBuffer(jpeg.byteLength);
    new Uint8Array(bytes).set(jpeg);
    timings.encodeMs = performance.now() - t;
    return {
      ok: true as const,
      json: undefined,
      image: { mediaType: task.render, bytes },
      inferenceCount: kept.length,
      labels,
    };
  }
  const json = kept.length === 0 ? undefined : JSON.stringify({ inferences: kept });
  timings.encodeMs = performance.now() - t;
  return { ok: true as const, json, inferenceCount: kept.length, labels };
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

async function close(): Promise<void> {
  for (const entry of new Set(loaded.values())) {
    try {
      await entry.instance.dispose?.();
    } catch {
      // dispose() must not throw; if it does, the worker is exiting anyway.
    }
  }
  loaded.clear();
  port.close();
}

process.on('unhandledRejection', (reason) => {
  // A processor that leaks a rejected promise must not take the worker down silently.
  throw reason;
});

void start();
