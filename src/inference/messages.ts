import type { PlainError } from '../errors.js';
import type { ANNOTATED_MEDIA_TYPE } from './annotate.js';
import type { InferenceFilters } from './filters.js';
import type { MediaInfo } from './probe.js';

/** Plain message types between the pool (main thread) and its workers. Nothing here may hold a class instance. */

export interface WorkerProcessorSpec {
  /** The key tasks use to select this processor (the route path). */
  key: string;
  moduleUrl: string;
  options: Record<string, unknown>;
}

export interface WorkerInit {
  workerId: number;
  processors: WorkerProcessorSpec[];
  /** Past this much memory (JS heap plus buffers outside it) after a task, the worker asks to be replaced. */
  maxMemoryBytes: number;
}

export interface TaskMessage {
  type: 'task';
  id: number;
  key: string;
  /** The body's bytes, transferred (not copied) to the worker. */
  body: ArrayBuffer;
  byteLength: number;
  media: MediaInfo;
  query: Record<string, string>;
  /** The query's filters, parsed once at admission. */
  filters: InferenceFilters;
  requestId: string;
  /** The stream the frame belongs to (stateful processors key their state by it); '' when the client named none. */
  stream: string;
  /** Answer the frame with its inferences drawn, in this media type, instead of JSON. */
  render?: typeof ANNOTATED_MEDIA_TYPE;
}

/** Stage durations measured in the worker, in milliseconds. */
export interface WorkerTimings {
  decodeMs: number;
  processMs: number;
  encodeMs: number;
}

export type TaskOutcome =
  | {
      ok: true;
      /** The JSON answer, already serialised in the worker; undefined when there is no result (204). */
      json: string | undefined;
      /** Set instead of `json` when the task asked for `render`: the encoded image, transferred back. */
      image?: { mediaType: string; bytes: ArrayBuffer };
      inferenceCount: number;
      /** type/tag pairs, for metrics */
      labels: Array<[string, string]>;
    }
  | { ok: false; error: PlainError /** internal detail for logs only, never sent to a client */; detail?: string };

/** `recycle`: why the worker must be replaced once this answer is delivered (memory, an uncaught error). */
export type ResultMessage = { type: 'result'; id: number; timings: WorkerTimings; recycle?: string } & TaskOutcome;

export type WorkerMessage =
  | { type: 'ready' }
  | { type: 'init-failed'; error: PlainError; detail?: string }
  | ResultMessage
  /** An error no task caught, attributed to the task whose code raised it (id), with no task running now. */
  | { type: 'fault'; id: number | undefined; detail: string };
