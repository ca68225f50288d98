import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Agent, request } from 'undici';
import { SERVER_HEAP_FLAGS } from '../src/cli/heap-flags.js';
import { cpuBudget } from '../src/config/defaults.js';
import { encodeBmp } from '../src/pipeline/pixel-encoders.js';
import type { Inference } from '../src/schema/inference.js';
import { CLI, type CliServer, startCli, untilReady } from './helpers/cli.js';
import {
  type Answer,
  assertError,
  assertSchemas,
  checkWellFormed,
  fixture,
  gauge,
  get,
  post,
  releaseFile,
  until,
} from './helpers/http.js';
import { freePort } from './helpers/pipeline.js';
import {
  assertQueueFullContract,
  doubleUrl,
  startBackPressureServer,
  startTestServer,
  type TestServer,
} from './helpers/server.js';

/**
 * `execution: inline` (frames on the event loop, no worker threads) must answer exactly as the worker pool does and
 * keep the same back-pressure, deadlines and failure answers; `processes` runs a supervised group of server
 * processes on one port.
 */

const jpeg = fixture('frames/street100_416.jpg');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('inline execution', () => {
  let inline: TestServer;
  let pooled: TestServer;
  const routes = [
    { path: '/score', processor: 'colorIntensity', options: {} },
    { path: '/behave', processor: doubleUrl('behave'), options: {} },
  ];
  before(async () => {
    inline = await startTestServer({ execution: 'inline', routes });
    pooled = await startTestServer({ workers: 1, routes });
  });
  after(async () => {
    await inline.close();
    await pooled.close();
  });

  test('answers exactly as the worker pool does, for JPEG, BMP and raw bodies', async () => {
    const rgb = new Uint8Array(64 * 48 * 3).map((_, i) => (i * 37) % 256);
    const bodies: Array<[string, Uint8Array]> = [
      ['image/jpeg', jpeg],
      ['image/bmp', encodeBmp(rgb, 64, 48)],
      ['image/x-raw; width=64; height=48; format=rgb24', rgb],
    ];
    for (const [type, body] of bodies) {
      const a = await post(inline.at('/score?camera=1'), body, { 'content-type': type });
      const b = await post(pooled.at('/score?camera=1'), body, { 'content-type': type });
      assert.equal(a.status, 200, type);
      assert.deepEqual(a.json, b.json, type);
    }
  });

  test('204 for no result; 500 for a throwing processor (no internals) or off-schema output; then it serves on', async () => {
    assert.equal((await post(inline.at('/behave?do=empty'), jpeg)).status, 204);
    const thrown = await post(inline.at('/behave?do=throw'), jpeg);
    assertError(thrown, 500, 'HX_ERR_PROCESSOR_FAILED');
    assert.doesNotMatch(thrown.text, /secret|passwd|Error:/);
    assertError(await post(inline.at('/behave?do=invalid'), jpeg), 500, 'HX_ERR_PROCESSOR_INVALID_OUTPUT');
    assert.equal((await post(inline.at('/behave'), jpeg)).status, 200);
  });

  test('readiness: 503 HX_ERR_CAPACITY_NOT_READY until the processors are loaded', async () => {
    const server = await startTestServer(
      { execution: 'inline', routes: [{ path: '/score', processor: doubleUrl('never-ready'), options: {} }] },
      { waitReady: false },
    );
    try {
      assert.equal((await get(server.at('/health/live'))).status, 200);
      assert.equal((await get(server.at('/health/ready'))).status, 503);
      assertError(await post(server.at('/score'), jpeg), 503, 'HX_ERR_CAPACITY_NOT_READY');
    } finally {
      await server.close();
    }
  });
});

describe('inline execution: back-pressure and deadlines', () => {
  let server: TestServer;
  before(async () => {
    server = await startBackPressureServer({ execution: 'inline' });
  });
  after(() => server.close());

  test('a full queue answers 503 HX_ERR_CAPACITY_QUEUE_FULL with Retry-After; the accepted requests complete', () =>
    assertQueueFullContract(server, jpeg));

  test('past requestTimeoutMs: the slow frame and the one queued behind it get 503 HX_ERR_CAPACITY_TIMEOUT', async () => {
    const hold = releaseFile();
    const stuck = post(server.at(`/behave?do=hold&until=${hold.path}`), jpeg);
    await until('the slow frame running', async () => (await gauge(server.url, 'httpextension_workers_busy')) === 1);
    const behind = post(server.at('/behave'), jpeg);
    assertError(await stuck, 503, 'HX_ERR_CAPACITY_TIMEOUT');
    assertError(await behind, 503, 'HX_ERR_CAPACITY_TIMEOUT');
    // The late frame keeps its executor until it returns (inline code cannot be interrupted): still busy.
    assert.equal(await gauge(server.url, 'httpextension_workers_busy'), 1);
    hold.release();
    await until('the late frame returned', async () => (await gauge(server.url, 'httpextension_workers_busy')) === 0);
    assert.equal((await post(server.at('/behave'), jpeg)).status, 200);
  });

  test('a processor blocking the event loop past the deadline is answered 503 when it returns; serving goes on', async () => {
    const stuck = await post(server.at('/behave?do=spin&ms=2000'), jpeg);
    assertError(stuck, 503, 'HX_ERR_CAPACITY_TIMEOUT');
    assert.equal((await post(server.at('/behave'), jpeg)).status, 200);
  });
});

/** A request on a connection of its own, so that the group's connection balancing can send it to any process. */
async function fresh(url: string, body?: Uint8Array): Promise<Answer & { bytes: Buffer }> {
  const dispatcher = new Agent({ pipelining: 0 });
  try {
    const response = await request(url, { method: body === undefined ? 'GET' : 'POST', body, dispatcher });
    const bytes = Buffer.from(await response.body.arrayBuffer());
    const answer = { status: response.statusCode, headers: response.headers, text: bytes.toString(), json: undefined };
    // Inference answers and errors; the console's own answers (state, images) are checked by the test.
    if (body !== undefined || answer.status >= 400) checkWellFormed(answer);
    return { ...answer, bytes };
  } finally {
    await dispatcher.close();
  }
}
const postFresh = (url: string, body: Uint8Array) => fresh(url, body);

interface FrameEvent {
  id: number;
  stream: string;
  source: string;
  hasImage: boolean;
  answer: unknown;
}

/** A console viewer on one connection: the frame events it has received, and a way to wait for more. */
function watch(base: string, stream: string) {
  const events: FrameEvent[] = [];
  let changed: (() => void) | undefined;
  const req = httpRequest(`${base}/console/api/live?stream=${stream}`, { agent: false });
  const opened = new Promise<number>((resolve, reject) => {
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        let end = text.indexOf('\n\n');
        while (end >= 0) {
          const block = text.slice(0, end);
          text = text.slice(end + 2);
          const data = /^event: frame\ndata: (.*)$/s.exec(block)?.[1];
          if (data !== undefined) events.push(JSON.parse(data) as FrameEvent);
          end = text.indexOf('\n\n');
        }
        changed?.();
      });
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
  });
  req.end();
  return {
    events,
    opened,
    async until(what: string, check: () => boolean, server: CliServer): Promise<void> {
      const deadline = Date.now() + 20_000;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`${what}: ${JSON.stringify(events)}\n${server.output()}`);
        await new Promise<void>((resolve) => {
          changed = resolve;
          setTimeout(resolve, 200).unref();
        });
      }
    },
    close: () => req.destroy(),
  };
}

/** pids of the server processes that logged a line with `msg` (JSON logs carry the pid in a group). */
function pidsLogging(server: CliServer, msg: string): number[] {
  const pids = server
    .output()
    .split('\n')
    .filter((line) => line.includes(`"msg":"${msg}"`))
    .map((line) => Number(/"pid":(\d+)/.exec(line)?.[1]));
  return [...new Set(pids)];
}

/** Waits until `count` server processes of the group have logged `msg`. */
async function untilLogged(server: CliServer, msg: string, count: number, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (pidsLogging(server, msg).length !== count) {
    if (Date.now() > end) throw new Error(`${count} processes logging "${msg}" did not happen:\n${server.output()}`);
    await sleep(20);
  }
}

/** A group of two processes serving `/score` on the event loop, and `routes` (PATH=PROCESSOR) beside it. */
function startPair(routes: string[] = [], env: Record<string, string> = {}): Promise<CliServer> {
  const args = ['--processes', '2', '--execution', 'inline', '--route', '/score=colorIntensity', '--log-level', 'info'];
  return startCli([...args, ...routes.flatMap((route) => ['--route', route])], env, { waitReady: false });
}

describe('several processes (--processes)', () => {
  test('a server started in-process is one process whatever `processes` says: the CPUs are its own', async () => {
    const server = await startTestServer({
      workers: 0,
      processes: 0,
      routes: [
        { path: '/score', processor: 'colorIntensity', options: {} },
        { path: '/motion', processor: 'motion', options: {} },
      ],
    });
    try {
      const state = JSON.parse((await get(server.at('/console/api/state'))).text) as {
        engine: { workers: number };
        processes: number;
        routes: Array<{ runs: string }>;
      };
      assert.deepEqual(
        [state.processes, state.engine.workers],
        [1, cpuBudget()],
        'a worker per CPU, not per CPU ÷ CPUs',
      );
      // With CPUs beyond the event loop: cheap frames handed off under load, a stateful processor's streams on the
      // workers (one event loop would serialise them all).
      const spare = cpuBudget() > 1;
      assert.deepEqual(
        state.routes.map((r) => r.runs),
        [`inline, workers ${spare ? 'when busy or ' : ''}over 500000 pixels`, spare ? 'workers' : 'inline'],
      );
    } finally {
      await server.close();
    }
  });

  test('connections spread over the processes; a stream keeps one state; a killed process is replaced; SIGTERM drains all and exits 0', async () => {
    const counter = `/count=${fileURLToPath(doubleUrl('stream-counter'))}`;
    const server = await startPair([counter]);
    try {
      await untilLogged(server, 'httpextension listening', 2);
      await untilLogged(server, 'all processors ready', 2);
      const first = pidsLogging(server, 'httpextension listening');
      // Started as plain `node main.js`, the supervisor still gives its server processes the heap flags.
      for (const pid of first) {
        const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
        for (const flag of SERVER_HEAP_FLAGS) assert.ok(argv.includes(flag), `${flag} in ${argv.join(' ')}`);
      }
      for (let i = 0; i < 8; i++) assert.equal((await postFresh(`${server.url}/score`, jpeg)).status, 200);
      assert.equal(pidsLogging(server, 'request').length, 2, 'both processes answered requests');
      // Each frame on a new connection, so they land on both processes: a stateful processor still counts each
      // stream's frames in one place, in order (src/inference/peers.ts).
      for (const stream of ['cam-1', 'cam-2', 'cam-3']) {
        const counts: string[] = [];
        for (let i = 0; i < 4; i++) {
          const answer = await postFresh(`${server.url}/count?stream=${stream}`, jpeg);
          assert.equal(answer.status, 200, answer.text);
          const [inference] = (JSON.parse(answer.text) as { inferences: Inference[] }).inferences;
          assert.equal(inference?.type, 'classification');
          counts.push((inference as Extract<Inference, { type: 'classification' }>).classification.tag.value);
        }
        assert.deepEqual(counts, ['1', '2', '3', '4'], `stream ${stream}`);
      }

      process.kill(first[0]!, 'SIGKILL');
      await untilLogged(server, 'httpextension listening', 3);
      await untilLogged(server, 'all processors ready', 3);
      assert.match(server.output(), /"msg":"server process stopped; starting another"/);
      for (let i = 0; i < 6; i++) assert.equal((await postFresh(`${server.url}/score`, jpeg)).status, 200);
      // The replacement is told the group is ready as soon as it is (it reports, the supervisor answers): probes on
      // fresh connections, which reach both processes, all say ready.
      await until('both processes ready to probes', async () => {
        for (let i = 0; i < 4; i++) if ((await fresh(`${server.url}/health/ready`)).status !== 200) return false;
        return true;
      });

      const code = await server.stop('SIGTERM');
      assert.equal(code, 0, server.output());
      assert.match(server.output(), /"exitCode":0,"msg":"all server processes stopped"/);
    } finally {
      await server.stop('SIGKILL');
    }
  });

  test('metrics.port serves the sum over every process', async () => {
    const metricsPort = await freePort();
    const server = await startPair([], { HX_METRICS_PORT: String(metricsPort) });
    try {
      await untilLogged(server, 'all processors ready', 2);
      for (let i = 0; i < 6; i++) assert.equal((await postFresh(`${server.url}/score`, jpeg)).status, 200);
      const summed = await get(`http://127.0.0.1:${metricsPort}/metrics`);
      assert.equal(summed.status, 200);
      assert.match(summed.text, /^httpextension_requests_total\{route="\/score",method="POST",status="200"\} 6$/m);
    } finally {
      await server.stop('SIGKILL');
    }
  });

  test('a group is ready when every process is: a probe that reaches a ready process says 503 until the last one is', async () => {
    const held = releaseFile();
    const server = await startPair([`/held=${fileURLToPath(doubleUrl('held-in-one'))}`], {
      HELD_IN_ONE_RELEASE: decodeURIComponent(held.path),
    });
    try {
      await untilLogged(server, 'httpextension listening', 2);
      await untilLogged(server, 'all processors ready', 1);
      // Fresh connections reach both processes in turn: one serves frames already, the other is starting.
      for (let i = 0; i < 4; i++) {
        const probe = await fresh(`${server.url}/health/ready`);
        assertError(probe, 503, 'HX_ERR_CAPACITY_NOT_READY');
        assert.equal(probe.headers['retry-after'], '1');
      }
      const frames = new Set<number>();
      for (let i = 0; i < 4; i++) frames.add((await postFresh(`${server.url}/held`, jpeg)).status);
      assert.deepEqual(
        [...frames].sort(),
        [204, 503],
        'the ready process serves frames (no inferences), the other is starting',
      );
      assert.equal(pidsLogging(server, 'every server process is ready').length, 0);
      held.release();
      await untilReady(server.url, server.child, server.output);
      for (let i = 0; i < 4; i++) assert.equal((await fresh(`${server.url}/health/ready`)).status, 200);
      assert.equal(pidsLogging(server, 'every server process is ready').length, 1, 'the supervisor says so, once');
    } finally {
      await server.stop('SIGKILL');
    }
  });

  test("the console shows the whole group: a viewer on one process sees every process's frames, their bytes and summed figures", async () => {
    const server = await startPair();
    const viewer = watch(server.url, 'cam');
    try {
      await untilLogged(server, 'all processors ready', 2);
      assert.equal(await viewer.opened, 200);
      // The viewer's process tells the other one as it opens; until that arrives, the other's frames are not
      // announced. Frames on fresh connections (both processes, in turn) until one from each process has come.
      const holders = () => new Set(viewer.events.map((e) => e.id % 2));
      let posted = 0;
      while (holders().size < 2 && posted < 40) {
        assert.equal((await postFresh(`${server.url}/score?stream=cam`, jpeg)).status, 200);
        posted++;
        await viewer.until('the frame event', () => viewer.events.length > 0 || posted > 1, server);
      }
      assert.equal(holders().size, 2, `frames from both processes reached the viewer after ${posted} frames`);
      // Each process numbers its frames index+1, index+3, ... and announces them in order once told of the viewer,
      // so a process whose first event is id X answered (X - 1 - index) / 2 frames unannounced before that; every
      // later frame comes, including one of the loop's still on its way.
      const firstOf = (parity: number) =>
        Math.min(...viewer.events.filter((e) => e.id % 2 === parity).map((e) => e.id));
      const unannounced = Math.floor((firstOf(0) - 1) / 2) + Math.floor((firstOf(1) - 1) / 2);
      for (let i = 0; i < 6; i++) {
        assert.equal((await postFresh(`${server.url}/score?stream=cam`, jpeg)).status, 200);
      }
      posted += 6;
      await viewer.until('every announced frame', () => viewer.events.length === posted - unannounced, server);
      const latest = [...viewer.events].sort((a, b) => a.id - b.id).slice(-6);
      for (const event of latest) {
        assert.deepEqual([event.stream, event.source, event.hasImage], ['cam', '/score', true]);
        assertSchemas(event.answer);
        // Fetched on fresh connections, so from either process, whichever holds the bytes.
        const image = await fresh(`${server.url}/console/api/frames/${event.id}`);
        assert.equal(image.status, 200, image.text);
        assert.equal(image.headers['content-type'], 'image/jpeg');
        assert.ok(image.bytes.equals(jpeg), `frame ${event.id} is the frame posted`);
      }
      assert.equal(new Set(latest.map((e) => e.id % 2)).size, 2, 'both processes answered some of the six');
      for (let i = 0; i < 2; i++) {
        const state = await fresh(`${server.url}/console/api/state`);
        assert.equal(state.status, 200);
        const body = JSON.parse(state.text) as {
          processes: number;
          engine: { ready: boolean; workers: number };
          figures: Record<string, { statuses: Record<string, number>; count: number }>;
          streams: Array<{ stream: string; received: number; watchers: number }>;
          viewers: number;
        };
        assert.equal(body.processes, 2);
        assert.equal(body.engine.ready, true);
        assert.deepEqual(body.figures['/score']?.statuses, { '200': posted });
        assert.equal(body.figures['/score']?.count, posted);
        const cam = body.streams.find((s) => s.stream === 'cam');
        assert.equal(cam?.received, posted);
        assert.equal(body.viewers, 1);
      }
      assertError(await fresh(`${server.url}/console/api/frames/999999`), 404, 'HX_ERR_HTTP_NOT_FOUND');
      assertError(await fresh(`${server.url}/console/api/frames/999998`), 404, 'HX_ERR_HTTP_NOT_FOUND');
    } finally {
      viewer.close();
      await server.stop('SIGKILL');
    }
  });

  test('a group whose processes cannot start exits 1 instead of restarting them forever', async () => {
    const child = spawn(
      process.execPath,
      [CLI, '-p', '0', '--host', '127.0.0.1', '--processes', '2', '--route', '/x=./no-such-processor.js'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d) => {
      output += d;
    });
    child.stderr.on('data', (d) => {
      output += d;
    });
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 1, output);
    assert.match(output, /a server process could not start/);
  });
});
