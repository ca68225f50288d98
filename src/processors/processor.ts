import type { Frame, FrameRequirements } from '../inference/frame.js';
import type { Inference } from '../schema/inference.js';

/** What a processor learns about the request besides the frame. Protocol-neutral: no HTTP objects. */
export interface ProcessRequest {
  /** The client's request id (x-ms-client-request-id) or a generated one. */
  requestId: string;
  /** The route path that selected this processor. */
  route: string;
  /** Query parameters (first value of each), e.g. ?confidence=0.5&object=person. */
  query: Readonly<Record<string, string>>;
  /**
   * The stream this frame belongs to (`?stream=` or the `x-stream-id` header; '' if none). For a `stateful`
   * processor, every frame of one stream reaches the same instance, in order.
   */
  stream?: string;
}

export interface ProcessorContext {
  /** 0-based index of the worker thread this instance lives in. */
  workerId: number;
}

/** A live processor: created once per worker, then called once per frame. */
export interface Processor {
  /** Returns the inferences for one frame; an empty list means "no result" (answered 204). */
  process(frame: Frame, request: ProcessRequest): Inference[] | Promise<Inference[]>;
  /** Releases what create() acquired. Called at most once; must not throw. */
  dispose?(): void | Promise<void>;
}

/**
 * A processor plug-in: the default export of its module. Importing the module must have no side effects;
 * expensive set-up (loading a model) belongs in create(), which runs once per worker before it reports ready.
 */
export interface ProcessorDefinition<Options = unknown> {
  /** Used in logs, metrics and as the default `subtype`. */
  name: string;
  description: string;
  /**
   * Validates raw options from config and returns them typed. Runs on the main thread at boot (bad options fail the
   * boot, not a request) and again in each worker. Throw an Error whose message lists every problem.
   */
  parseOptions(raw: Readonly<Record<string, unknown>>): Options;
  /**
   * The processor keeps state between frames of a stream (e.g. motion: the previous frame). The pool then sends
   * all frames of one stream to the same worker, in arrival order.
   */
  stateful?: boolean;
  /**
   * Each frame costs well under a millisecond (a mean, a frame difference): with `execution: auto` (the default) the
   * route runs on the event loop, where a worker's two thread hand-offs would cost as much as the work.
   */
  cheap?: boolean;
  /** What the decoder must deliver; defaults to the full-size image. */
  frameRequirements?(options: Options): FrameRequirements;
  create(options: Options, context: ProcessorContext): Processor | Promise<Processor>;
}

/** Identity helper that gives plug-in authors type inference for their options. */
export function defineProcessor<Options>(definition: ProcessorDefinition<Options>): ProcessorDefinition<Options> {
  return definition;
}

export function isProcessorDefinition(value: unknown): value is ProcessorDefinition {
  const v = value as Partial<ProcessorDefinition> | null;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.name === 'string' &&
    typeof v.parseOptions === 'function' &&
    typeof v.create === 'function'
  );
}

/** Options helper: rejects keys the processor does not know, so a typo in config fails the boot. */
export function rejectUnknownOptions(raw: Readonly<Record<string, unknown>>, known: readonly string[]): string[] {
  return Object.keys(raw)
    .filter((key) => !known.includes(key))
    .map((key) => `unknown option "${key}" (known: ${known.join(', ') || 'none'})`);
}
