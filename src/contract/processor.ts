import type { Inference } from '../schema/inference.js';
import type { Frame, FrameRequirements } from './frame.js';

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
   * The options as a JSON Schema (an object schema; ajv, draft-07): the engine validates a route's options against it
   * at boot, on the main thread (bad options fail the boot, not a request) and again in each worker, and fills in
   * each property's `default`. Say `additionalProperties: false` so that a typo in the configuration is refused.
   * Without it, a processor takes no options (unless it has parseOptions).
   */
  options?: OptionsSchema;
  /**
   * Checks a schema cannot express (a file that must exist), on options already validated and defaulted; returns
   * them typed. Throw an Error whose message lists every problem.
   */
  parseOptions?(options: Readonly<Record<string, unknown>>): Options;
  /**
   * The processor keeps state between frames of a stream (e.g. motion: the previous frame). The pool then sends
   * all frames of one stream to the same worker, in arrival order.
   */
  stateful?: boolean;
  /**
   * Each frame costs well under a millisecond (a mean, a frame difference): with `execution: auto` (the default) the
   * route runs on the event loop, where a worker's two thread hand-offs would cost as much as the work (large frames
   * still go to workers, unless the processor is stateful).
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
    typeof v.create === 'function' &&
    (v.options === undefined || (typeof v.options === 'object' && v.options !== null)) &&
    (v.parseOptions === undefined || typeof v.parseOptions === 'function')
  );
}

/** A JSON Schema of an options object. */
export interface OptionsSchema {
  type: 'object';
  properties: Record<string, object>;
  required?: string[];
  additionalProperties?: boolean;
  [keyword: string]: unknown;
}
