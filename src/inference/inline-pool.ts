import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { HxError } from '../errors.js';
import type { WorkerProcessorSpec } from './messages.js';
import { capacityError, type PoolEvents, type TaskInput, type TaskPool, type TaskResult } from './pool.js';
import { TaskRunner } from './task-runner.js';

interface InlineTask {
  input: TaskInput;
  enqueuedAt: number;
  resolve: (result: TaskResult) => void;
  reject: (error: HxError) => void;
  timer: NodeJS.Timeout;
  onAbort: (() => void) | undefined;
  settled: boolean;
}

/**
 * Runs processors on the calling thread, one frame at a time, behind the same bounded FIFO queue and deadlines as
 * the worker pool. For processors whose whole job is well under a millisecond (colorIntensity), the two thread
 * hand-offs of the pool cost as much as the work; run several processes (`processes`) to use every core. What it
 * gives up: a processor that blocks stalls HTTP on this process, a running frame cannot be cut short at its
 * deadline (its answer is 503 and the result is dropped), and a processor that crashes the thread takes the process
 * with it (with `processes` > 1 the supervisor starts a new one).
 */
export class InlinePool extends EventEmitter<PoolEvents> implements TaskPool {
  readonly size = 1;
  private readonly processors: readonly WorkerProcessorSpec[];
  private readonly maxQueued: number;
  private readonly queue: InlineTask[] = [];
  private runner: TaskRunner | undefined;
  private running: InlineTask | undefined;
  private scheduled = false;
  private closed = false;
  private serviceMs: number | undefined;

  constructor(options: { processors: readonly WorkerProcessorSpec[]; maxQueued: number }) {
    super();
    this.processors = options.processors;
    this.maxQueued = options.maxQueued;
  }

  async start(): Promise<void> {
    try {
      this.runner = await TaskRunner.load(this.processors, 0);
    } catch (error) {
      const hx =
        error instanceof HxError ? error : new HxError('HX_ERR_PROCESSOR_LOAD', String(error), { cause: error });
      this.emit('worker-failed', { workerId: 0, error: hx, detail: (error as Error)?.stack ?? String(error) });
      throw hx;
    }
  }

  get ready(): boolean {
    return !this.closed && this.runner !== undefined;
  }

  get queued(): number {
    return this.queue.length;
  }

  get busy(): number {
    return this.running === undefined ? 0 : 1;
  }

  retryAfterSeconds(): number {
    const backlog = this.queue.length + this.busy;
    return Math.max(1, Math.ceil((backlog * (this.serviceMs ?? 0)) / 1000));
  }

  run(input: TaskInput): Promise<TaskResult> {
    if (this.closed) return Promise.reject(capacityError(this, 'HX_ERR_CAPACITY_DRAINING'));
    if (this.runner === undefined) return Promise.reject(capacityError(this, 'HX_ERR_CAPACITY_NOT_READY'));
    if (this.running !== undefined && this.queue.length >= this.maxQueued) {
      return Promise.reject(capacityError(this, 'HX_ERR_CAPACITY_QUEUE_FULL'));
    }
    return new Promise<TaskResult>((resolve, reject) => {
      const task: InlineTask = {
        input,
        enqueuedAt: performance.now(),
        resolve,
        reject,
        timer: setTimeout(() => this.expire(task), Math.max(0, input.deadline - performance.now())),
        onAbort: undefined,
        settled: false,
      };
      if (input.signal !== undefined) {
        task.onAbort = () => {
          if (this.remove(task)) this.fail(task, new HxError('HX_ERR_CLIENT_GONE'));
        };
        input.signal.addEventListener('abort', task.onAbort, { once: true });
      }
      this.queue.push(task);
      this.schedule();
    });
  }

  async close(graceMs = 0): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const task of this.queue.splice(0)) this.fail(task, capacityError(this, 'HX_ERR_CAPACITY_DRAINING'));
    const deadline = Date.now() + graceMs;
    while (this.running !== undefined && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    if (this.running !== undefined) this.fail(this.running, capacityError(this, 'HX_ERR_CAPACITY_DRAINING'));
    await this.runner?.dispose();
  }

  /** Starts the oldest queued frame (called from schedule() only). */
  private next(): void {
    const task = this.queue.shift();
    if (task === undefined || this.runner === undefined) return;
    this.running = task;
    const startedAt = performance.now();
    const { input } = task;
    void this.runner
      .run(
        {
          key: input.key,
          media: input.media,
          query: input.query,
          requestId: input.requestId,
          stream: input.stream ?? '',
          ...(input.render ? { render: input.render } : {}),
        },
        input.body,
      )
      .then(({ outcome, timings }) => {
        const elapsed = performance.now() - startedAt;
        this.serviceMs = this.serviceMs === undefined ? elapsed : this.serviceMs * 0.8 + elapsed * 0.2;
        if (!outcome.ok && outcome.detail !== undefined) {
          this.emit('task-error-detail', {
            requestId: input.requestId,
            code: outcome.error.code,
            detail: outcome.detail,
          });
        }
        // A frame that blocked the event loop past its deadline kept the timer from firing: it is late all the same.
        if (!task.settled && performance.now() > input.deadline) this.expire(task);
        if (!task.settled) {
          this.finish(task);
          task.resolve({ ...outcome, timings, queueMs: startedAt - task.enqueuedAt });
        }
        this.running = undefined;
        this.schedule();
      });
  }

  /**
   * Runs the next frame after the event loop's I/O phase, one frame per turn, never inside the callback that
   * delivered a body: every socket is read between two frames and frames start in arrival order. (Run where their
   * bodies complete, frames would start in whatever order the sockets were polled, and under load some connections
   * would wait seconds behind others.)
   */
  private schedule(): void {
    if (this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.running === undefined) this.next();
    });
  }

  /** Past its deadline: a queued frame is dropped; a running one is answered now and its result dropped later. */
  private expire(task: InlineTask): void {
    if (task.settled) return;
    this.remove(task);
    this.fail(task, capacityError(this, 'HX_ERR_CAPACITY_TIMEOUT'));
  }

  private remove(task: InlineTask): boolean {
    const index = this.queue.indexOf(task);
    if (index >= 0) this.queue.splice(index, 1);
    return index >= 0;
  }

  private fail(task: InlineTask, error: HxError): void {
    if (task.settled) return;
    this.finish(task);
    task.reject(error);
  }

  private finish(task: InlineTask): void {
    task.settled = true;
    clearTimeout(task.timer);
    if (task.onAbort !== undefined) task.input.signal?.removeEventListener('abort', task.onAbort);
  }
}
