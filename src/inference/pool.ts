import { EventEmitter } from 'node:events';
import { performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { HxError } from '../errors.js';
import type { ResultMessage, TaskMessage, WorkerInit, WorkerMessage, WorkerProcessorSpec } from './messages.js';
import type { MediaInfo } from './probe.js';

export interface PoolOptions {
  size: number;
  /** Tasks allowed to wait for a free worker; one more is refused with HX_ERR_CAPACITY_QUEUE_FULL. */
  maxQueued: number;
  processors: WorkerProcessorSpec[];
  /** Module URL of the worker entry (tests substitute their own). */
  workerUrl?: URL;
}

export interface TaskInput {
  key: string;
  body: Uint8Array;
  media: MediaInfo;
  query: Record<string, string>;
  requestId: string;
  /** See TaskMessage.stream. */
  stream?: string;
  /** See TaskMessage.render. */
  render?: TaskMessage['render'];
  /**
   * Tasks with the same key always run on the same worker, in arrival order (state kept between frames of a
   * stream). Undefined: any free worker.
   */
  affinity?: string | undefined;
  /** Absolute deadline (performance.now() ms): past it, the task is dropped or its worker recycled. */
  deadline: number;
  /** Aborting removes a queued task; a running one finishes and its result is discarded. */
  signal?: AbortSignal | undefined;
}

export type TaskResult = DistributiveOmit<ResultMessage, 'type' | 'id'> & { queueMs: number };
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;

interface PendingTask {
  message: TaskMessage;
  transfer: ArrayBuffer[];
  enqueuedAt: number;
  resolve: (result: TaskResult) => void;
  reject: (error: HxError) => void;
  timer: NodeJS.Timeout;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  slot?: Slot;
  startedAt?: number;
  /** The only slot that may run this task (affinity), else any. */
  slotId: number | undefined;
}

interface Slot {
  id: number;
  worker: Worker;
  ready: boolean;
  task: PendingTask | undefined;
}

export interface PoolEvents {
  /** A worker stopped unexpectedly (crash or recycled after a timeout); it is being replaced. */
  'worker-exit': [{ workerId: number; reason: string }];
  'worker-failed': [{ workerId: number; error: HxError; detail?: string | undefined }];
  'task-error-detail': [{ requestId: string; code: string; detail: string }];
}

/** What the engine runs frames on: worker threads (WorkerPool) or the calling thread (InlinePool). */
export interface TaskPool extends EventEmitter<PoolEvents> {
  /** Frames that can run at once. */
  readonly size: number;
  /** Every executor has loaded its processors and the pool is not closed. */
  readonly ready: boolean;
  readonly queued: number;
  readonly busy: number;
  /** Seconds a client should wait before retrying: the time to work through what is queued now (at least 1). */
  retryAfterSeconds(): number;
  run(input: TaskInput): Promise<TaskResult>;
  start(): Promise<void>;
  /** Stops taking tasks, lets running ones finish (up to `graceMs`), then releases the processors. */
  close(graceMs?: number): Promise<void>;
}

/**
 * A fixed pool of worker threads with a bounded FIFO queue: the back-pressure piscina leaves to its user. Each worker
 * runs one task at a time; a worker that dies or overruns a deadline is terminated and replaced, and only its own
 * task fails. Bodies are transferred to workers, never copied.
 */
export class WorkerPool extends EventEmitter<PoolEvents> implements TaskPool {
  readonly size: number;
  private readonly options: PoolOptions;
  private readonly slots: Slot[] = [];
  private readonly queue: PendingTask[] = [];
  private nextId = 1;
  private closed = false;
  /** Exponentially weighted mean of worker service time (ms), for Retry-After; undefined until the first task. */
  private serviceMs: number | undefined;

  constructor(options: PoolOptions) {
    super();
    this.options = options;
    this.size = options.size;
  }

  /** Starts every worker; resolves once all have loaded their processors, rejects if any cannot. */
  async start(): Promise<void> {
    const started = Array.from({ length: this.size }, (_, id) => this.spawn(id));
    await Promise.all(started);
  }

  get ready(): boolean {
    return !this.closed && this.slots.length === this.size && this.slots.every((slot) => slot.ready);
  }

  get queued(): number {
    return this.queue.length;
  }

  get busy(): number {
    return this.slots.filter((slot) => slot.task !== undefined).length;
  }

  /** Seconds a client should wait before retrying: the time to work through what is queued now (at least 1). */
  retryAfterSeconds(): number {
    const backlog = this.queue.length + this.busy;
    return Math.max(1, Math.ceil((backlog * (this.serviceMs ?? 0)) / this.size / 1000));
  }

  run(input: TaskInput): Promise<TaskResult> {
    if (this.closed) return Promise.reject(capacityError(this, 'HX_ERR_CAPACITY_DRAINING'));
    if (!this.ready && this.slots.every((slot) => !slot.ready)) {
      return Promise.reject(capacityError(this, 'HX_ERR_CAPACITY_NOT_READY'));
    }
    const slotId = input.affinity === undefined ? undefined : affinitySlot(input.affinity, this.size);
    // A task bound to a slot waits behind that slot's earlier tasks, even if the slot is idle right now, so that
    // frames of one stream are processed in the order they arrived.
    const free = this.slots.find(
      (slot) =>
        slot.ready &&
        slot.task === undefined &&
        (slotId === undefined || (slot.id === slotId && !this.queue.some((t) => t.slotId === slotId))),
    );
    if (free === undefined && this.queue.length >= this.options.maxQueued) {
      return Promise.reject(capacityError(this, 'HX_ERR_CAPACITY_QUEUE_FULL'));
    }
    const body = ownBuffer(input.body);
    return new Promise<TaskResult>((resolve, reject) => {
      const task: PendingTask = {
        message: {
          type: 'task',
          id: this.nextId++,
          key: input.key,
          body: body.buffer as ArrayBuffer,
          byteLength: body.byteLength,
          media: input.media,
          query: input.query,
          requestId: input.requestId,
          stream: input.stream ?? '',
          ...(input.render ? { render: input.render } : {}),
        },
        transfer: [body.buffer as ArrayBuffer],
        enqueuedAt: performance.now(),
        resolve,
        reject,
        timer: setTimeout(() => this.expire(task), Math.max(0, input.deadline - performance.now())),
        signal: input.signal,
        onAbort: undefined,
        slotId,
      };
      if (input.signal !== undefined) {
        task.onAbort = () => this.abandon(task);
        input.signal.addEventListener('abort', task.onAbort, { once: true });
      }
      if (free !== undefined) this.dispatch(free, task);
      else this.queue.push(task);
    });
  }

  /** Stops taking tasks, lets running ones finish (up to `graceMs`), then ends every worker. */
  async close(graceMs = 0): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const task of this.queue.splice(0)) this.settle(task, capacityError(this, 'HX_ERR_CAPACITY_DRAINING'));
    const deadline = Date.now() + graceMs;
    while (this.busy > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    await Promise.all(
      this.slots.map(async (slot) => {
        if (slot.task !== undefined) this.settle(slot.task, capacityError(this, 'HX_ERR_CAPACITY_DRAINING'));
        slot.worker.removeAllListeners('exit');
        slot.worker.postMessage({ type: 'close' });
        const exited = new Promise((r) => slot.worker.once('exit', r));
        const timeout = setTimeout(() => void slot.worker.terminate(), 2000);
        await exited;
        clearTimeout(timeout);
      }),
    );
  }

  private spawn(id: number): Promise<void> {
    const init: WorkerInit = { workerId: id, processors: this.options.processors };
    const worker = new Worker(this.options.workerUrl ?? new URL('./worker.js', import.meta.url), {
      workerData: init,
      // A runaway processor must not take the whole process's memory.
      resourceLimits: { maxOldGenerationSizeMb: 2048 },
    });
    const slot: Slot = { id, worker, ready: false, task: undefined };
    this.slots[id] = slot;
    return new Promise<void>((resolve, reject) => {
      worker.on('message', (message: WorkerMessage) => {
        if (message.type === 'ready') {
          slot.ready = true;
          resolve();
          this.pump(slot);
        } else if (message.type === 'init-failed') {
          const error = HxError.fromPlain(message.error);
          this.emit('worker-failed', { workerId: id, error, detail: message.detail });
          slot.worker.removeAllListeners('exit');
          void slot.worker.terminate();
          reject(error);
        } else this.complete(slot, message);
      });
      worker.on('error', (error) => {
        this.emit('worker-exit', { workerId: id, reason: String(error?.stack ?? error) });
      });
      worker.on('exit', (code) => {
        if (!slot.ready) reject(new HxError('HX_ERR_PROCESSOR_LOAD', `worker ${id} exited with code ${code}`));
        this.replace(slot, `exited with code ${code}`);
      });
    });
  }

  private replace(slot: Slot, reason: string): void {
    if (this.slots[slot.id] !== slot) return;
    slot.ready = false;
    if (slot.task !== undefined) {
      this.settle(slot.task, new HxError('HX_ERR_WORKER_DIED'));
      slot.task = undefined;
    }
    if (this.closed) return;
    this.emit('worker-exit', { workerId: slot.id, reason });
    this.spawn(slot.id).catch(() => {
      // A replacement that cannot load is retried; readiness stays false until one succeeds.
      setTimeout(() => {
        const current = this.slots[slot.id];
        if (current !== undefined && !current.ready) this.replace(current, 'replacement failed to start');
      }, 1000).unref();
    });
  }

  private dispatch(slot: Slot, task: PendingTask): void {
    slot.task = task;
    task.slot = slot;
    task.startedAt = performance.now();
    slot.worker.postMessage(task.message, task.transfer);
  }

  private pump(slot: Slot): void {
    while (slot.ready && slot.task === undefined && !this.closed) {
      const index = this.queue.findIndex((task) => task.slotId === undefined || task.slotId === slot.id);
      if (index < 0) return;
      const [next] = this.queue.splice(index, 1);
      this.dispatch(slot, next!);
    }
  }

  private complete(slot: Slot, message: ResultMessage): void {
    const task = slot.task;
    slot.task = undefined;
    if (task !== undefined && task.message.id === message.id) {
      const elapsed = performance.now() - (task.startedAt ?? task.enqueuedAt);
      this.serviceMs = this.serviceMs === undefined ? elapsed : this.serviceMs * 0.8 + elapsed * 0.2;
      const { type: _type, id: _id, ...rest } = message;
      if (!message.ok && message.detail !== undefined) {
        this.emit('task-error-detail', {
          requestId: task.message.requestId,
          code: message.error.code,
          detail: message.detail,
        });
      }
      this.finish(task);
      task.resolve({ ...rest, queueMs: (task.startedAt ?? task.enqueuedAt) - task.enqueuedAt });
    }
    this.pump(slot);
  }

  /** The deadline passed: a queued task is dropped; a running one costs its worker (JS cannot be interrupted). */
  private expire(task: PendingTask): void {
    const slot = task.slot;
    if (slot === undefined) {
      this.removeQueued(task);
      this.settle(task, capacityError(this, 'HX_ERR_CAPACITY_TIMEOUT'));
      return;
    }
    if (slot.task !== task) return;
    slot.task = undefined;
    this.settle(task, capacityError(this, 'HX_ERR_CAPACITY_TIMEOUT'));
    slot.ready = false;
    slot.worker.removeAllListeners('exit');
    void slot.worker.terminate();
    this.replace(slot, 'terminated: a task overran its deadline');
  }

  private abandon(task: PendingTask): void {
    if (task.slot === undefined && this.removeQueued(task)) {
      this.settle(task, new HxError('HX_ERR_CLIENT_GONE'));
    }
  }

  private removeQueued(task: PendingTask): boolean {
    const index = this.queue.indexOf(task);
    if (index >= 0) this.queue.splice(index, 1);
    return index >= 0;
  }

  private settle(task: PendingTask, error: HxError): void {
    this.finish(task);
    task.reject(error);
  }

  private finish(task: PendingTask): void {
    clearTimeout(task.timer);
    if (task.onAbort !== undefined) task.signal?.removeEventListener('abort', task.onAbort);
  }
}

export type CapacityCode =
  | 'HX_ERR_CAPACITY_QUEUE_FULL'
  | 'HX_ERR_CAPACITY_NOT_READY'
  | 'HX_ERR_CAPACITY_DRAINING'
  | 'HX_ERR_CAPACITY_TIMEOUT';

/** A 503 of the pool: every one carries Retry-After, from what the pool has measured. */
export function capacityError(pool: Pick<TaskPool, 'retryAfterSeconds'>, code: CapacityCode): HxError {
  return new HxError(code, undefined, { headers: { 'retry-after': String(pool.retryAfterSeconds()) } });
}

/** FNV-1a of the key, modulo the pool size: stable for the life of the pool (a replaced worker keeps its slot). */
export function affinitySlot(key: string, size: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % size;
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
