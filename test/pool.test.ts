import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { WorkerPool } from '../src/inference/pool.js';
import { fixture } from './helpers/http.js';
import { doubleUrl } from './helpers/server.js';

const media = { kind: 'jpeg' as const, width: 416, height: 416 };

describe('worker pool', () => {
  let pool: WorkerPool;
  before(async () => {
    pool = new WorkerPool({
      size: 1,
      maxQueued: 4,
      processors: [{ key: '/b', moduleUrl: doubleUrl('behave'), options: {} }],
    });
    await pool.start();
  });
  after(() => pool.close());

  const task = (query: Record<string, string>, signal?: AbortSignal) => {
    const body = new Uint8Array(fixture('frames/messi_416.jpg'));
    return {
      body,
      run: pool.run({ key: '/b', body, media, query, requestId: 't', deadline: performance.now() + 10_000, signal }),
    };
  };

  test('the body is transferred to the worker, not copied: the sender is left with a detached buffer', async () => {
    const { body, run } = task({});
    assert.equal(body.byteLength, 0);
    assert.equal(body.buffer.byteLength, 0);
    const result = await run;
    assert.equal(result.ok, true);
  });

  test('aborting removes a queued task; a running one finishes', async () => {
    const running = task({ do: 'slow', ms: '200' });
    const controller = new AbortController();
    const queued = task({}, controller.signal);
    assert.equal(pool.queued, 1);
    controller.abort();
    await assert.rejects(queued.run, (error: Error & { code?: string }) => error.code === 'HX_ERR_CLIENT_GONE');
    assert.equal(pool.queued, 0);
    assert.equal((await running.run).ok, true);
  });

  test('Retry-After follows the measured service time and the backlog', async () => {
    const fresh = new WorkerPool({
      size: 1,
      maxQueued: 4,
      processors: [{ key: '/b', moduleUrl: doubleUrl('behave'), options: {} }],
    });
    await fresh.start();
    try {
      const run = () =>
        fresh.run({
          key: '/b',
          body: new Uint8Array(fixture('frames/messi_416.jpg')),
          media,
          query: { do: 'slow', ms: '400' },
          requestId: 't',
          deadline: performance.now() + 10_000,
        });
      assert.equal(fresh.retryAfterSeconds(), 1);
      const slow = [run(), run(), run(), run()];
      await slow[0];
      // Backlog 3 (1 running + 2 queued) x ~400 ms measured service time on 1 worker: 2 seconds.
      assert.equal(fresh.retryAfterSeconds(), 2);
      await Promise.all(slow);
    } finally {
      await fresh.close();
    }
  });
});
