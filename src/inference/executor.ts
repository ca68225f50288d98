import { once } from 'node:events';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';
import { HxError, isHxError } from '../errors.js';
import type {
  TaskMessage,
  TaskOutcome,
  WorkerInit,
  WorkerMessage,
  WorkerProcessorSpec,
  WorkerTimings,
} from './messages.js';
import { TaskRunner } from './task-runner.js';

/** One frame as an executor runs it. */
export type Job = Omit<TaskMessage, 'type' | 'id' | 'body' | 'byteLength'> & { body: Uint8Array };
export type JobResult = TaskOutcome & { timings: WorkerTimings };

/**
 * Something that runs jobs one at a time: a worker thread or the event loop. It knows nothing of queues or
 * deadlines (the scheduler's); it loads its processors, runs what it is given and says when it is ready.
 */
export interface Executor {
  readonly ready: boolean;
  /** Loads the processors; rejects with the reason when they cannot be loaded. */
  start(): Promise<void>;
  /** Resolves with the job's outcome (a processor error is an outcome); rejects when the executor itself failed. */
  run(job: Job): Promise<JobResult>;
  /** Stops a hung job by replacing the executor; false when it cannot be (the event loop). */
  recycle(reason: string): boolean;
  close(): Promise<void>;
}

export interface ExecutorEvents {
  /** Ready to take a job (first start, or after a replacement). */
  ready(executor: Executor): void;
  /** A worker stopped unexpectedly (crash or recycled); it is being replaced. */
  exited(workerId: number, reason: string): void;
  /** Replacements kept failing to start: the server cannot serve this lane any more. */
  fatal(error: HxError): void;
  /** A job of route `key` faulted its executor (crashed the worker, or raised an error no task caught). */
  fault(key: string, detail: string): void;
}

/** Consecutive failed starts of a replacement after which a worker is given up (and the server stops). */
const MAX_RESTART_FAILURES = 3;
const RESTART_DELAY_MS = 1000;

/** One worker thread. A worker that dies is replaced in place; bodies are transferred to it, never copied. */
export class WorkerExecutor implements Executor {
  private readonly id: number;
  private readonly processors: readonly WorkerProcessorSpec[];
  private readonly events: ExecutorEvents;
  private worker: Worker | undefined;
  private isReady = false;
  private closed = false;
  private nextId = 1;
  private current:
    | { id: number; key: string; resolve: (r: JobResult) => void; reject: (e: HxError) => void }
    | undefined;
  /** The route of recent task ids, to attribute an uncaught error raised after its task was answered. */
  private readonly recent = new Map<number, string>();
  private restartFailures = 0;
  private readonly maxMemoryBytes: number;

  constructor(id: number, processors: readonly WorkerProcessorSpec[], events: ExecutorEvents, maxMemoryMb = 4096) {
    this.id = id;
    this.maxMemoryBytes = maxMemoryMb * 2 ** 20;
    this.processors = processors;
    this.events = events;
  }

  get ready(): boolean {
    return this.isReady && !this.closed;
  }

  start(): Promise<void> {
    const init: WorkerInit = {
      workerId: this.id,
      processors: [...this.processors],
      maxMemoryBytes: this.maxMemoryBytes,
    };
    const worker = new Worker(new URL('./worker.js', import.meta.url), {
      workerData: init,
      // A runaway processor must not take the whole process's memory.
      resourceLimits: { maxOldGenerationSizeMb: 2048 },
    });
    this.worker = worker;
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (message: WorkerMessage) => {
        if (message.type === 'ready') {
          this.isReady = true;
          this.restartFailures = 0;
          resolve();
          this.events.ready(this);
        } else if (message.type === 'init-failed') {
          worker.removeAllListeners('exit');
          void worker.terminate();
          this.worker = undefined;
          const error = HxError.fromPlain(message.error);
          reject(new HxError(error.code, `worker ${this.id}: ${error.message}`, { cause: message.detail }));
        } else if (message.type === 'fault') {
          const key = message.id === undefined ? undefined : this.recent.get(message.id);
          if (key !== undefined) this.events.fault(key, message.detail);
          // Nothing is running (else the worker answers it first and asks to be replaced then).
          if (this.current === undefined) this.recycle('an uncaught error in a processor');
        } else if (this.current !== undefined && this.current.id === message.id) {
          const { resolve: done, key } = this.current;
          this.current = undefined;
          const { type: _type, id: _id, recycle, ...result } = message;
          if (recycle === 'an uncaught error in a processor' && !result.ok) this.events.fault(key, result.detail ?? '');
          done(result as JobResult);
          // Between tasks: the answer is delivered, the next job waits for the replacement.
          if (recycle !== undefined) this.recycle(recycle);
        }
      });
      worker.on('error', (error) => this.events.exited(this.id, String(error?.stack ?? error)));
      worker.on('exit', (code) => {
        if (this.worker === worker) this.worker = undefined;
        if (!this.isReady) {
          reject(new HxError('HX_ERR_PROCESSOR_LOAD', `worker ${this.id} exited with code ${code} while starting`));
          return;
        }
        this.replace(`exited with code ${code}`);
      });
    });
  }

  run(job: Job): Promise<JobResult> {
    const worker = this.worker;
    if (worker === undefined || !this.ready) return Promise.reject(new HxError('HX_ERR_WORKER_DIED'));
    const body = ownBuffer(job.body);
    const message: TaskMessage = {
      ...job,
      type: 'task',
      id: this.nextId++,
      body: body.buffer as ArrayBuffer,
      byteLength: body.byteLength,
    };
    return new Promise<JobResult>((resolve, reject) => {
      this.current = { id: message.id, key: job.key, resolve, reject };
      this.recent.set(message.id, job.key);
      if (this.recent.size > 64) this.recent.delete(this.recent.keys().next().value!);
      worker.postMessage(message, [message.body]);
    });
  }

  recycle(reason: string): boolean {
    const worker = this.worker;
    if (worker === undefined || this.closed) return false;
    worker.removeAllListeners('exit');
    void worker.terminate();
    this.worker = undefined;
    this.replace(`terminated: ${reason}`);
    return true;
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = undefined;
    this.current?.reject(new HxError('HX_ERR_CAPACITY_DRAINING'));
    this.current = undefined;
    if (worker === undefined) return;
    // Nothing this executor listens for matters any more (a start still loading is abandoned).
    worker.removeAllListeners();
    worker.on('error', () => {});
    const exited = once(worker, 'exit');
    worker.postMessage({ type: 'close' });
    // A worker still loading its processors, or stuck in one, does not read its messages: stop it.
    const force = setTimeout(() => void worker.terminate(), 2000);
    await exited;
    clearTimeout(force);
  }

  private replace(reason: string): void {
    this.isReady = false;
    if (this.current !== undefined) this.events.fault(this.current.key, reason);
    this.current?.reject(new HxError('HX_ERR_WORKER_DIED'));
    this.current = undefined;
    if (this.closed) return;
    this.events.exited(this.id, reason);
    this.start().catch((error: unknown) => {
      this.restartFailures++;
      if (this.restartFailures >= MAX_RESTART_FAILURES) {
        const cause = isHxError(error) ? error.message : String(error);
        this.events.fatal(
          new HxError(
            'HX_ERR_PROCESSOR_LOAD',
            `worker ${this.id} failed to start ${this.restartFailures} times in a row after it stopped (${reason}): ${cause}`,
          ),
        );
        return;
      }
      setTimeout(() => {
        if (!this.closed && !this.isReady) this.replace('replacement failed to start');
      }, RESTART_DELAY_MS).unref();
    });
  }
}

/**
 * The event loop as an executor, for processors whose whole job is well under a millisecond (colorIntensity): the
 * two thread hand-offs of a worker cost as much as the work. What it gives up: a processor that blocks stalls the
 * front end of this process, a hung job cannot be stopped, and a processor that crashes the thread takes the process
 * with it.
 */
export class InlineExecutor implements Executor {
  private readonly processors: readonly WorkerProcessorSpec[];
  private readonly events: ExecutorEvents;
  private runner: TaskRunner | undefined;
  private closed = false;

  constructor(processors: readonly WorkerProcessorSpec[], events: ExecutorEvents) {
    this.processors = processors;
    this.events = events;
  }

  get ready(): boolean {
    return this.runner !== undefined && !this.closed;
  }

  async start(): Promise<void> {
    this.runner = await TaskRunner.load(this.processors, 0);
    this.events.ready(this);
  }

  async run(job: Job): Promise<JobResult> {
    // One frame per event-loop turn, after the I/O phase, never inside the callback that delivered a body: every
    // socket is read between two frames. (Run where their bodies complete, frames would start in socket-poll order
    // and under load some connections would wait seconds behind others.)
    await nextTurn();
    const runner = this.runner;
    if (runner === undefined || this.closed) throw new HxError('HX_ERR_CAPACITY_DRAINING');
    const { outcome, timings } = await runner.run(job, job.body);
    return { ...outcome, timings };
  }

  recycle(): boolean {
    return false;
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.runner?.dispose();
    this.runner = undefined;
  }
}

/** A view that owns its whole ArrayBuffer can be transferred; a slice of a shared one is copied once. */
function ownBuffer(bytes: Uint8Array): Uint8Array {
  if (
    bytes.byteOffset === 0 &&
    bytes.byteLength === bytes.buffer.byteLength &&
    !(bytes.buffer instanceof SharedArrayBuffer)
  ) {
    return bytes;
  }
  return new Uint8Array(bytes);
}
