import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HxError } from '../src/errors.js';
import { splitPlacement } from '../src/inference/engine.js';
import type { Executor, Job, JobResult } from '../src/inference/executor.js';
import { affinityIndex, type Lane, Scheduler, type SchedulerOptions } from '../src/inference/scheduler.js';
import colorIntensity from '../src/processors/color-intensity/index.js';

/**
 * The one scheduler, driven through executors that hold every job until the test releases it: the order of events is
 * the test's, never a timer's, and time is a clock the test moves.
 */

class HeldExecutor implements Executor {
  ready = true;
  recycled = 0;
  readonly held: Array<{ job: Job; release: (result?: Partial<JobResult>) => void; fail: (e: HxError) => void }> = [];
  start(): Promise<void> {
    return Promise.resolve();
  }
  run(job: Job): Promise<JobResult> {
    return new Promise((resolve, reject) => {
      this.held.push({
        job,
        release: (result = {}) =>
          resolve({
            ok: true,
            json: `{"id":"${job.requestId}"}`,
            inferenceCount: 1,
            labels: [],
            timings: { decodeMs: 0, processMs: 0, encodeMs: 0 },
            ...result,
          } as JobResult),
        fail: reject,
      });
    });
  }
  recycle(): boolean {
    this.recycled++;
    return true;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  /** Releases the oldest held job. */
  next(result?: Partial<JobResult>): Job {
    const entry = this.held.shift();
    assert.ok(entry, 'no job is running on this executor');
    entry.release(result);
    return entry.job;
  }
}

function job(requestId: string): Job {
  const media = { kind: 'jpeg' as const, width: 2, height: 2 };
  return { key: '/r', body: new Uint8Array(1), media, query: {}, filters: {}, requestId, stream: '' };
}

function setup(executors: number, options: Partial<SchedulerOptions> = {}) {
  let clock = 0;
  const held = Array.from({ length: executors }, () => new HeldExecutor());
  const lane: Lane = { name: 'workers', executors: held };
  const scheduler = new Scheduler({ lanes: [lane], maxQueued: 2, hungAfterMs: 60_000, now: () => clock, ...options });
  const submit = (id: string, extra: { affinity?: string; deadline?: number; signal?: AbortSignal } = {}) =>
    scheduler.submit(job(id), {
      lane,
      affinity: extra.affinity,
      deadline: extra.deadline ?? 3_600_000,
      signal: extra.signal,
    });
  return { scheduler, held, lane, submit, advance: (ms: number) => (clock += ms) };
}

const code = (expected: string) => (error: unknown) => (error as HxError).code === expected;
const flush = () => new Promise((resolve) => setImmediate(resolve));

describe('scheduler', () => {
  test('jobs run on free executors, then wait in FIFO order; one more than maxQueued is refused with Retry-After', async () => {
    const { scheduler, held, submit } = setup(2);
    const answers = ['a', 'b', 'c', 'd'].map((id) => submit(id));
    assert.deepEqual([scheduler.busy, scheduler.queued, scheduler.capacity], [2, 2, 2]);
    await assert.rejects(submit('e'), (error: HxError) => {
      assert.equal(error.code, 'HX_ERR_CAPACITY_QUEUE_FULL');
      assert.equal(error.headers['retry-after'], '1');
      return true;
    });
    assert.equal(held[1]!.next().requestId, 'b');
    await flush();
    // The freed executor takes the oldest waiting job.
    assert.equal(held[1]!.held[0]!.job.requestId, 'c');
    held[0]!.next();
    held[1]!.next();
    await flush();
    held[0]!.next();
    const results = await Promise.all(answers);
    assert.deepEqual(
      results.map((r) => r.ok && r.json),
      ['{"id":"a"}', '{"id":"b"}', '{"id":"c"}', '{"id":"d"}'],
    );
    assert.deepEqual([scheduler.busy, scheduler.queued, scheduler.inFlight], [0, 0, 0]);
  });

  test('a job with an overflow lane runs on its own lane first, on the overflow lane while its own is busy', async () => {
    let clock = 0;
    const inline = new HeldExecutor();
    const workers = [new HeldExecutor(), new HeldExecutor()];
    const own: Lane = { name: 'inline', executors: [inline] };
    const overflow: Lane = { name: 'workers', executors: workers };
    const scheduler = new Scheduler({ lanes: [own, overflow], maxQueued: 1, hungAfterMs: 60_000, now: () => clock });
    const submit = (id: string) =>
      scheduler.submit(job(id), { lane: own, overflow, affinity: undefined, deadline: 1e9, signal: undefined });
    const answers = ['a', 'b', 'c', 'd'].map(submit);
    assert.deepEqual(
      [inline, ...workers].map((e) => e.held.map((h) => h.job.requestId)),
      [['a'], ['b'], ['c']],
    );
    assert.equal(scheduler.queued, 1);
    // A worker that frees up takes the waiting job too, not only the event loop.
    workers[1]!.next();
    await flush();
    assert.equal(workers[1]!.held[0]!.job.requestId, 'd');
    clock += 1;
    inline.next();
    workers[0]!.next();
    workers[1]!.next();
    assert.equal((await Promise.all(answers)).length, 4);
  });

  test('a lane with no ready executor refuses HX_ERR_CAPACITY_NOT_READY; with one ready, jobs wait for it', async () => {
    const { scheduler, held, submit } = setup(2);
    for (const e of held) e.ready = false;
    await assert.rejects(submit('a'), code('HX_ERR_CAPACITY_NOT_READY'));
    assert.equal(scheduler.ready, false);
    held[0]!.ready = true;
    const answer = submit('b');
    assert.equal(held[0]!.held.length, 1);
    held[0]!.next();
    assert.equal((await answer).ok, true);
  });

  test('a replaced executor that becomes ready takes the job waiting for it', async () => {
    const { scheduler, held, submit } = setup(1);
    const first = submit('a');
    const second = submit('b');
    held[0]!.ready = false;
    held[0]!.next();
    await first;
    assert.equal(held[0]!.held.length, 0, 'a not-ready executor is given nothing');
    held[0]!.ready = true;
    scheduler.executorReady(held[0]!);
    held[0]!.next();
    assert.equal((await second).ok, true);
  });

  test('jobs of one stream run on one executor in arrival order, even when another executor is free', async () => {
    const { held, submit } = setup(2);
    const key = 'stream-1';
    const pinned = held[affinityIndex(key, 2)]!;
    const other = held[1 - affinityIndex(key, 2)]!;
    const a = submit('a', { affinity: key });
    const b = submit('b', { affinity: key });
    const free = submit('free');
    assert.deepEqual(
      [pinned.held.map((h) => h.job.requestId), other.held.map((h) => h.job.requestId)],
      [['a'], ['free']],
    );
    pinned.next();
    await a;
    assert.equal(pinned.held[0]!.job.requestId, 'b');
    pinned.next();
    other.next();
    await Promise.all([b, free]);
  });

  test('aborting answers HX_ERR_CLIENT_GONE: a queued job leaves, a running one runs on but no longer holds a drain', async () => {
    const { scheduler, held, submit } = setup(1);
    const runningAbort = new AbortController();
    const running = submit('a', { signal: runningAbort.signal });
    const queuedAbort = new AbortController();
    const queued = submit('b', { signal: queuedAbort.signal });
    queuedAbort.abort();
    runningAbort.abort();
    await assert.rejects(queued, code('HX_ERR_CLIENT_GONE'));
    await assert.rejects(running, code('HX_ERR_CLIENT_GONE'));
    assert.equal(scheduler.queued, 0);
    assert.equal(scheduler.inFlight, 0);
    await scheduler.idle(3_600_000);
    // Its executor is still busy with it: the next job waits for it.
    assert.equal(scheduler.busy, 1);
    const next = submit('c');
    assert.equal(scheduler.queued, 1);
    held[0]!.next();
    await flush();
    held[0]!.next();
    assert.equal((await next).ok, true);
  });

  test('past its deadline a queued job is dropped and a running one answered 503; its executor keeps it', async () => {
    let hung: string | undefined;
    const { scheduler, held, submit } = setup(1, { onHung: (_lane, requestId) => (hung = requestId) });
    const running = submit('a', { deadline: -1 });
    const queued = submit('b', { deadline: -1 });
    await Promise.all([
      assert.rejects(queued, code('HX_ERR_CAPACITY_TIMEOUT')),
      assert.rejects(running, code('HX_ERR_CAPACITY_TIMEOUT')),
    ]);
    // Still busy: the late job keeps its executor (and a stateful processor its state) until it returns.
    assert.deepEqual([scheduler.busy, scheduler.inFlight, held[0]!.recycled, hung], [1, 0, 0, undefined]);
    const next = submit('c');
    assert.equal(scheduler.queued, 1);
    held[0]!.next();
    await flush();
    held[0]!.next();
    assert.equal((await next).ok, true);
  });

  test('a job still running hungAfterMs past its deadline costs its executor, which is recycled', async () => {
    const recycledFor = new Promise<string>((resolve) => {
      const { held, submit } = setup(1, { hungAfterMs: 0, onHung: (_lane, requestId) => resolve(requestId) });
      submit('stuck', { deadline: -1 }).catch(() => {});
      assert.equal(held[0]!.held.length, 1);
    });
    assert.equal(await recycledFor, 'stuck');
  });

  test('a job that returns after its deadline (its timer could not fire) is answered 503 all the same', async () => {
    const { held, submit, advance } = setup(1);
    const answer = submit('a', { deadline: 1_000 });
    advance(5_000);
    held[0]!.next();
    await assert.rejects(answer, code('HX_ERR_CAPACITY_TIMEOUT'));
  });

  test('Retry-After is the backlog times the measured service time over the executors', async () => {
    const { scheduler, held, submit, advance } = setup(1, { maxQueued: 8 });
    assert.equal(scheduler.retryAfterSeconds(), 1);
    const first = submit('a');
    advance(2_000);
    held[0]!.next();
    await first;
    const backlog = ['b', 'c', 'd'].map((id) => submit(id));
    // 1 running + 2 queued at 2 s each on one executor.
    assert.equal(scheduler.retryAfterSeconds(), 6);
    for (let i = 0; i < 3; i++) {
      held[0]!.next();
      await flush();
    }
    await Promise.all(backlog);
  });

  test('an executor failure fails its job with that error; the next job runs', async () => {
    const { held, submit } = setup(1);
    const a = submit('a');
    const b = submit('b');
    held[0]!.held.shift()!.fail(new HxError('HX_ERR_WORKER_DIED'));
    await assert.rejects(a, code('HX_ERR_WORKER_DIED'));
    held[0]!.next();
    assert.equal((await b).ok, true);
  });

  test('drain refuses new jobs with HX_ERR_CAPACITY_DRAINING, lets admitted ones finish; close refuses the rest', async () => {
    const { scheduler, held, submit } = setup(1);
    const running = submit('a');
    const queued = submit('b');
    scheduler.drain();
    await assert.rejects(submit('c'), code('HX_ERR_CAPACITY_DRAINING'));
    let idle = false;
    const idled = scheduler.idle(3_600_000).then(() => (idle = true));
    held[0]!.next();
    await running;
    await flush();
    assert.equal(idle, false, 'one job is still admitted');
    held[0]!.next();
    await queued;
    await idled;
    const late = setup(1);
    const waiting = [late.submit('x'), late.submit('y')];
    await late.scheduler.close();
    for (const answer of waiting) await assert.rejects(answer, code('HX_ERR_CAPACITY_DRAINING'));
  });
});

describe('auto execution: where a cheap stateless processor runs a frame', () => {
  // colorIntensity's own requirements: JPEGs reduced by DCT scaling, down to 32768 pixels.
  const needs = colorIntensity.frameRequirements!({ threshold: 127, excludeBars: true, barMaxLuma: 24 });

  test('idle: on the event loop up to 500,000 pixels, whatever the format; larger frames on the workers', () => {
    assert.equal(splitPlacement({ kind: 'jpeg', width: 416, height: 416 }, needs, 0), 'event-loop');
    assert.equal(splitPlacement({ kind: 'bmp', width: 416, height: 416 }, needs, 0), 'event-loop');
    assert.equal(splitPlacement({ kind: 'raw', width: 800, height: 600 }, needs, 0), 'event-loop');
    assert.equal(splitPlacement({ kind: 'jpeg', width: 1920, height: 1080 }, needs, 0), 'workers');
    assert.equal(splitPlacement({ kind: 'bmp', width: 1000, height: 501 }, needs, 0), 'workers');
  });

  test('under load: the event loop takes only frames the decode reduces to few pixels (416 JPEG), not BMP or raw', () => {
    // 416x416 JPEG decodes at 1/2: 208x208 = 43,264 pixels.
    assert.equal(splitPlacement({ kind: 'jpeg', width: 416, height: 416 }, needs, 1), 'workers, else event loop');
    // 640x480 decodes at 1/2 as well: 76,800 pixels.
    assert.equal(splitPlacement({ kind: 'jpeg', width: 640, height: 480 }, needs, 2), 'workers, else event loop');
    // Full size: 173,056 pixels of BGR.
    assert.equal(splitPlacement({ kind: 'bmp', width: 416, height: 416 }, needs, 1), 'workers');
    assert.equal(splitPlacement({ kind: 'raw', width: 416, height: 416 }, needs, 2), 'workers');
    assert.equal(splitPlacement({ kind: 'bmp', width: 320, height: 240 }, needs, 2), 'workers, else event loop');
    // A processor that does not let JPEGs be reduced processes every pixel.
    assert.equal(splitPlacement({ kind: 'jpeg', width: 416, height: 416 }, {}, 1), 'workers');
    assert.equal(splitPlacement({ kind: 'jpeg', width: 1920, height: 1080 }, needs, 1), 'workers');
  });
});
