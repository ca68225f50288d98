import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startCli } from './helpers/cli.js';
import { assertError, fixture, gauge, post, releaseFile, until } from './helpers/http.js';

const jpeg = fixture('frames/messi_416.jpg');
const behave = fileURLToPath(new URL('./doubles/behave.js', import.meta.url));

type LogLine = { msg: string; route?: string; reason?: string; backoffMs?: number };
const logLines = (output: string): LogLine[] =>
  output
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);

/** Two routes on one worker thread, both served by the deliberately faulty `behave` double. */
function twoRoutes(extra: string[] = [], env: NodeJS.ProcessEnv = {}) {
  return startCli(
    ['--workers', '1', '--execution', 'workers', '--route', `/a=${behave}`, '--route', `/b=${behave}`, ...extra],
    env,
  );
}

describe('fault domains', { timeout: 120_000 }, () => {
  test("an uncaught error of one route's processor fails no request of another route on the same worker", async () => {
    const server = await twoRoutes();
    try {
      const fire = releaseFile();
      assert.equal((await post(`${server.url}/a?do=throw-later&until=${fire.path}`, jpeg)).status, 200);
      const hold = releaseFile();
      const other = post(`${server.url}/b?do=hold&until=${hold.path}`, jpeg);
      await until('/b running', async () => (await gauge(server.url, 'httpextension_workers_busy')) === 1);
      fire.release();
      await until('the fault attributed to /a', () =>
        logLines(server.output()).some((l) => l.msg === 'processor fault' && l.route === '/a'),
      );
      hold.release();
      const answer = await other;
      assert.equal(answer.status, 200, answer.text);
      // The thread is replaced after that answer; both routes serve on its successor.
      await until('the worker replaced', () => logLines(server.output()).some((l) => l.msg === 'worker stopped'));
      await until('worker back', async () => (await gauge(server.url, 'httpextension_ready')) === 1);
      assert.equal((await post(`${server.url}/b`, jpeg)).status, 200);
      assert.equal((await post(`${server.url}/a`, jpeg)).status, 200);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  test('a processor that keeps crashing its worker is paused (503 CIRCUIT_OPEN + Retry-After), tried again with a doubling back-off', async () => {
    // The pause (1 s, then 2 s) outlasts what the test does between a fault and its next request on a loaded machine.
    const server = await twoRoutes([], { HX_PROCESSOR_FAULT_LIMIT: '2', HX_PROCESSOR_FAULT_BACKOFF_MS: '1000' });
    try {
      assertError(await post(`${server.url}/a?do=crash`, jpeg), 500, 'HX_ERR_WORKER_DIED');
      await until('worker back', async () => (await gauge(server.url, 'httpextension_ready')) === 1);
      // The second fault opens the breaker: the next frame is refused at once, the worker's restart not awaited.
      assertError(await post(`${server.url}/a?do=crash`, jpeg), 500, 'HX_ERR_WORKER_DIED');
      const paused = await post(`${server.url}/a?do=crash`, jpeg);
      assertError(paused, 503, 'HX_ERR_CAPACITY_CIRCUIT_OPEN');
      assert.ok(Number(paused.headers['retry-after']) >= 1);
      // The other route serves meanwhile (once the crashed thread's successor is up).
      await until('worker back', async () => (await gauge(server.url, 'httpextension_ready')) === 1);
      assert.equal((await post(`${server.url}/b`, jpeg)).status, 200);
      // After the pause one frame is let through; it crashes again, and the pause doubles.
      await until('the trial frame', async () => (await post(`${server.url}/a?do=crash`, jpeg)).status === 500);
      await until('paused again', () =>
        logLines(server.output()).some((l) => l.msg.startsWith('route paused') && l.backoffMs === 2000),
      );
      assertError(await post(`${server.url}/a?do=crash`, jpeg), 503, 'HX_ERR_CAPACITY_CIRCUIT_OPEN');
      // A trial frame that completes closes the breaker.
      await until('worker back', async () => (await gauge(server.url, 'httpextension_ready')) === 1);
      await until('served again', async () => (await post(`${server.url}/a`, jpeg)).status === 200);
      assert.equal((await post(`${server.url}/a`, jpeg)).status, 200);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  test('a worker holding more than workerMaxMemoryMb outside the JS heap is replaced between tasks', async () => {
    const server = await twoRoutes([], { HX_WORKER_MAX_MEMORY_MB: '100' });
    try {
      assert.equal((await post(`${server.url}/a?do=hog&mb=64`, jpeg)).status, 200);
      assert.ok(!logLines(server.output()).some((l) => l.msg === 'worker stopped'));
      // Over the limit after this task: answered, then the worker is replaced.
      assert.equal((await post(`${server.url}/a?do=hog&mb=64`, jpeg)).status, 200);
      await until('the worker replaced', () =>
        logLines(server.output()).some((l) => l.msg === 'worker stopped' && /workerMaxMemoryMb/.test(l.reason ?? '')),
      );
      // Its successor starts empty: one more 64 MB is under the limit again.
      await until('worker back', async () => (await gauge(server.url, 'httpextension_ready')) === 1);
      assert.equal((await post(`${server.url}/b?do=hog&mb=64`, jpeg)).status, 200);
      assert.equal(logLines(server.output()).filter((l) => l.msg === 'worker stopped').length, 1);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});
