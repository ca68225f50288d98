import { performance } from 'node:perf_hooks';
import { HxError } from '../errors.js';
import type { Executor, Job, JobResult } from './executor.js';

/** Where a route's frames run: a group of interchangeable executors (the worker threads, or the event loop). */
export interface Lane {
  name: string;
  executors: readonly Executor[];
}

export interface Submission {
  lane: Lane;
  /**
   * When every executor of `lane` is busy, a free executor of this lane may take the job (a cheap processor loaded on
   * the event loop and on the workers: the event loop first, for its latency; the workers when it is busy).
   */
  overflow?: Lane | undefined;
  /**
   * Jobs with the same key run on the same executor of their lane, in arrival order (a stateful processor keeps its
   * per-stream state there). Undefined: any free executor.
   */
  affinity: string | undefined;
  /** Absolute deadline (performance.now() ms, or the `now` clock given). */
  deadline: number;
  /**
   * Aborting (the client went away) answers the job HX_ERR_CLIENT_GONE at once: a queued one leaves the queue, a
   * running one runs on (its executor stays busy) but no longer counts as in flight, so a drain does not wait for an
   * answer nobody will read.
   */
  signal: AbortSignal | undefined;
  /** Called when the job leaves the queue for an executor (the front end's stage becomes `process`). */
  onStart?: (() => void) | undefined;
}

export type ScheduledResult = JobResult & { queueMs: number };

interface Pending {
  job: Job;
  lane: Lane;
  overflow: Lane | undefined;
  /** The only executor that may run this job (affinity), else any of its lane. */
  pinned: Executor | undefined;
  deadline: number;
  enqueuedAt: number;
  startedAt: number | undefined;
  resolve: (result: ScheduledResult) => void;
  reject: (error: HxError) => void;
  timer: NodeJS.Timeout;
  /** Armed when a running job passes its deadline: past it, the job is taken as hung. */
  hungTimer: NodeJS.Timeout | undefined;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  onStart: (() => void) | undefined;
  settled: boolean;
}

export interface SchedulerOptions {
  lanes: readonly Lane[];
  /** Jobs allowed to wait for an executor (over every lane); one more is refused with HX_ERR_CAPACITY_QUEUE_FULL. */
  maxQueued: number;
  /**
   * How long a running job may go on after its deadline (it has been answered 503 already) before its executor is
   * taken as hung and replaced, where it can be (a worker thread; the event loop cannot be).
   */
  hungAfterMs: number;
  /** A hung executor was replaced. */
  onHung?: (lane: string, requestId: string) => void;
  /** A job failed with an internal detail (for the log), whether or not its client still waits for it. */
  onFailureDetail?: (requestId: string, code: string, detail: string) => void;
  /** The clock deadlines and service times are read from (performance.now; tests give their own). */
  now?: () => number;
}

export type CapacityCode =
  | 'HX_ERR_CAPACITY_QUEUE_FULL'
  | 'HX_ERR_CAPACITY_NOT_READY'
  | 'HX_ERR_CAPACITY_DRAINING'
  | 'HX_ERR_CAPACITY_TIMEOUT';

/**
 * The one scheduler: a bounded FIFO queue in front of every executor, stream affinity, deadlines, abort, the
 * Retry-After estimate and drain. Executors run one job at a time and only say when they are ready; every rule about
 * which job runs when is here.
 *
 * Deadlines: a queued job past its deadline leaves the queue with 503 HX_ERR_CAPACITY_TIMEOUT. A running job past
 * it is answered the same at once and its result is dropped when it arrives, but its executor keeps it: a stateful
 * processor keeps its per-stream state. Only a job still running `hungAfterMs` later costs its executor (a worker
 * is terminated and replaced).
 */
export class Scheduler {
  private readonly options: SchedulerOptions;
  private readonly queue: Pending[] = [];
  private readonly running = new Map<Executor, Pending>();
  /** Exponentially weighted mean service time (ms) per lane, for Retry-After; absent until a job completes. */
  private readonly serviceMs = new Map<string, number>();
  private draining = false;
  private closed = false;
  private readonly idleWaiters = new Set<() => void>();
  private readonly now: () => number;
  private readonly laneOf = new Map<Executor, Lane>();

  constructor(options: SchedulerOptions) {
    this.options = options;
    for (const lane of options.lanes) for (const e of lane.executors) this.laneOf.set(e, lane);
    this.now = options.now ?? (() => performance.now());
  }

  /** Every executor of every lane has loaded its processors. */
  get ready(): boolean {
    return !this.closed && this.options.lanes.every((lane) => lane.executors.every((e) => e.ready));
  }

  get queued(): number {
    return this.queue.length;
  }

  get busy(): number {
    return this.running.size;
  }

  /** Jobs that can run at once. */
  get capacity(): number {
    return this.options.lanes.reduce((sum, lane) => sum + lane.executors.length, 0);
  }

  /** Jobs admitted and not yet answered (queued, running, or running on past their deadline). */
  get inFlight(): number {
    let n = this.queue.length;
    for (const pending of this.running.values()) if (!pending.settled) n++;
    return n;
  }

  /**
   * Seconds a client should wait before retrying: the time to work through what is queued and running now, on the
   * slowest lane (at least 1).
   */
  retryAfterSeconds(lane?: Lane): number {
    let seconds = 1;
    for (const l of lane === undefined ? this.options.lanes : [lane]) {
      const service = this.serviceMs.get(l.name) ?? 0;
      let backlog = 0;
      for (const p of this.queue) if (p.lane === l) backlog++;
      for (const p of this.running.values()) if (p.lane === l) backlog++;
      seconds = Math.max(seconds, Math.ceil((backlog * service) / Math.max(1, l.executors.length) / 1000));
    }
    return seconds;
  }

  /** A job for `lane` submitted now would be refused HX_ERR_CAPACITY_QUEUE_FULL (no free executor, queue full). */
  isFull(lane: Lane, overflow?: Lane): boolean {
    if (this.queue.length < this.options.maxQueued) return false;
    return (
      this.freeExecutor(lane, undefined) === undefined &&
      (overflow === undefined || this.freeExecutor(overflow, undefined) === undefined)
    );
  }

  capacityError(code: CapacityCode, lane?: Lane): HxError {
    return new HxError(code, undefined, { headers: { 'retry-after': String(this.retryAfterSeconds(lane)) } });
  }

  submit(job: Job, submission: Submission): Promise<ScheduledResult> {
    const { lane, overflow } = submission;
    if (this.draining || this.closed) return Promise.reject(this.capacityError('HX_ERR_CAPACITY_DRAINING', lane));
    if (![lane, overflow].some((l) => l?.executors.some((e) => e.ready))) {
      return Promise.reject(this.capacityError('HX_ERR_CAPACITY_NOT_READY', lane));
    }
    const pinned =
      submission.affinity === undefined
        ? undefined
        : lane.executors[affinityIndex(submission.affinity, lane.executors.length)];
    const free =
      this.freeExecutor(lane, pinned) ??
      (pinned === undefined && overflow !== undefined ? this.freeExecutor(overflow, undefined) : undefined);
    if (free === undefined && this.queue.length >= this.options.maxQueued) {
      return Promise.reject(this.capacityError('HX_ERR_CAPACITY_QUEUE_FULL', lane));
    }
    return new Promise<ScheduledResult>((resolve, reject) => {
      const pending: Pending = {
        job,
        lane,
        overflow: pinned === undefined ? overflow : undefined,
        pinned,
        deadline: submission.deadline,
        enqueuedAt: this.now(),
        startedAt: undefined,
        resolve,
        reject,
        timer: setTimeout(() => this.expire(pending), Math.max(0, submission.deadline - this.now())),
        hungTimer: undefined,
        signal: submission.signal,
        onAbort: undefined,
        onStart: submission.onStart,
        settled: false,
      };
      if (submission.signal !== undefined) {
        pending.onAbort = () => {
          this.removeQueued(pending);
          this.fail(pending, new HxError('HX_ERR_CLIENT_GONE'));
        };
        submission.signal.addEventListener('abort', pending.onAbort, { once: true });
      }
      if (free !== undefined) this.dispatch(free, pending);
      else this.queue.push(pending);
    });
  }

  /** An executor became ready (started, or replaced): give it the oldest job it may run. */
  executorReady(executor: Executor): void {
    if (!this.running.has(executor)) this.pump(executor);
  }

  /** Stops admitting: new jobs are refused with HX_ERR_CAPACITY_DRAINING; queued and running ones finish. */
  drain(): void {
    this.draining = true;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  /** Resolves when nothing is queued or unanswered (or after `timeoutMs`). */
  idle(timeoutMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      if (this.inFlight === 0) return resolve();
      const done = (): void => {
        clearTimeout(timer);
        this.idleWaiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      this.idleWaiters.add(done);
    });
  }

  /** Refuses what is still queued or running (draining) and stops every executor. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.draining = true;
    for (const pending of this.queue.splice(0)) this.fail(pending, this.capacityError('HX_ERR_CAPACITY_DRAINING'));
    for (const pending of this.running.values()) {
      clearTimeout(pending.hungTimer);
      this.fail(pending, this.capacityError('HX_ERR_CAPACITY_DRAINING'));
    }
    this.running.clear();
    await Promise.all(this.options.lanes.flatMap((lane) => lane.executors.map((e) => e.close())));
  }

  private freeExecutor(lane: Lane, pinned: Executor | undefined): Executor | undefined {
    if (pinned !== undefined) {
      // A pinned job waits behind its executor's earlier jobs even when the executor is idle right now, so that the
      // frames of one stream are processed in the order they arrived.
      const idle = pinned.ready && !this.running.has(pinned) && !this.queue.some((p) => p.pinned === pinned);
      return idle ? pinned : undefined;
    }
    return lane.executors.find((e) => e.ready && !this.running.has(e));
  }

  private pump(executor: Executor): void {
    if (this.closed || !executor.ready || this.running.has(executor)) return;
    const index = this.queue.findIndex(
      (p) =>
        p.pinned === executor ||
        (p.pinned === undefined &&
          (p.lane.executors.includes(executor) || p.overflow?.executors.includes(executor) === true)),
    );
    if (index < 0) return;
    const [next] = this.queue.splice(index, 1);
    this.dispatch(executor, next!);
  }

  private dispatch(executor: Executor, pending: Pending): void {
    this.running.set(executor, pending);
    pending.startedAt = this.now();
    pending.onStart?.();
    executor.run(pending.job).then(
      (result) => this.completed(executor, pending, result),
      (error: unknown) => this.completed(executor, pending, error as HxError),
    );
  }

  private completed(executor: Executor, pending: Pending, result: JobResult | HxError): void {
    clearTimeout(pending.hungTimer);
    if (!(result instanceof HxError) && !result.ok && result.detail !== undefined) {
      this.options.onFailureDetail?.(pending.job.requestId, result.error.code, result.detail);
    }
    const startedAt = pending.startedAt ?? pending.enqueuedAt;
    if (!(result instanceof HxError)) {
      const elapsed = this.now() - startedAt;
      const ranOn = (this.laneOf.get(executor) ?? pending.lane).name;
      const mean = this.serviceMs.get(ranOn);
      this.serviceMs.set(ranOn, mean === undefined ? elapsed : mean * 0.8 + elapsed * 0.2);
    }
    // A job that blocked the event loop past its deadline kept its timer from firing: it is late all the same.
    if (!pending.settled && this.now() > pending.deadline) {
      this.fail(pending, this.capacityError('HX_ERR_CAPACITY_TIMEOUT', pending.lane));
    }
    if (!pending.settled) {
      if (result instanceof HxError) this.fail(pending, result);
      else {
        this.finish(pending);
        pending.resolve({ ...result, queueMs: startedAt - pending.enqueuedAt });
      }
    }
    if (this.running.get(executor) === pending) this.running.delete(executor);
    this.wakeIdle();
    this.pump(executor);
  }

  private expire(pending: Pending): void {
    if (pending.settled) return;
    if (this.removeQueued(pending)) {
      this.fail(pending, this.capacityError('HX_ERR_CAPACITY_TIMEOUT', pending.lane));
      return;
    }
    this.fail(pending, this.capacityError('HX_ERR_CAPACITY_TIMEOUT', pending.lane));
    pending.hungTimer = setTimeout(() => {
      for (const [executor, running] of this.running) {
        if (running !== pending || !executor.recycle('a job overran its deadline')) continue;
        this.running.delete(executor);
        this.options.onHung?.(pending.lane.name, pending.job.requestId);
      }
    }, this.options.hungAfterMs);
  }

  private removeQueued(pending: Pending): boolean {
    const index = this.queue.indexOf(pending);
    if (index >= 0) this.queue.splice(index, 1);
    return index >= 0;
  }

  private fail(pending: Pending, error: HxError): void {
    if (pending.settled) return;
    this.finish(pending);
    pending.reject(error);
  }

  private finish(pending: Pending): void {
    pending.settled = true;
    clearTimeout(pending.timer);
    if (pending.onAbort !== undefined) pending.signal?.removeEventListener('abort', pending.onAbort);
    this.wakeIdle();
  }

  private wakeIdle(): void {
    if (this.idleWaiters.size === 0 || this.inFlight > 0) return;
    for (const wake of this.idleWaiters) wake();
  }
}

/** FNV-1a of the key, modulo the lane's size: stable for the life of the server (a replaced worker keeps its place). */
export function affinityIndex(key: string, size: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    hash ^= key.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % size;
}
