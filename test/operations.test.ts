import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { VERSION } from '../src/version.js';
import { SCORE_ONLY, startCli } from './helpers/cli.js';
import { assertError, fixture, gauge, get, post, rawExchange, releaseFile, until } from './helpers/http.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const jpeg = fixture('frames/messi_416.jpg');
const behave = fileURLToPath(new URL('./doubles/behave.js', import.meta.url));

describe('metrics', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({ workers: 1 });
  });
  after(() => server.close());

  test('/metrics has requests by route and status, stage histograms, queue and worker gauges, inferences, rejections', async () => {
    assert.equal((await post(server.at('/score'), jpeg)).status, 200);
    assert.equal((await post(server.at('/nowhere'), jpeg)).status, 404);
    const answer = await get(server.at('/metrics'));
    assert.equal(answer.status, 200);
    assert.match(String(answer.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const text = answer.text;
    assert.match(text, /httpextension_requests_total\{route="\/score",method="POST",status="200"\} 1/);
    assert.match(text, /httpextension_requests_total\{route="unmatched",method="POST",status="404"\} 1/);
    for (const stage of ['receive', 'queue', 'decode', 'process', 'encode']) {
      assert.match(
        text,
        new RegExp(`httpextension_stage_duration_seconds_count\\{stage="${stage}",processor="colorIntensity"\\} 1`),
      );
    }
    assert.match(
      text,
      /httpextension_inferences_total\{processor="colorIntensity",type="classification",label="dark"\} 1/,
    );
    assert.match(text, /httpextension_rejected_requests_total\{reason="HX_ERR_HTTP_NOT_FOUND"\} 1/);
    assert.match(text, /^httpextension_queue_depth 0$/m);
    assert.match(text, /^httpextension_workers_busy 0$/m);
    assert.match(text, /^httpextension_workers 1$/m);
    assert.match(text, /^httpextension_ready 1$/m);
    assert.match(text, /^httpextension_process_cpu_seconds_total /m);
    assert.match(text, /httpextension_request_duration_seconds_bucket\{le="0.005",route="\/score"\}/);
    assert.match(
      text,
      new RegExp(`^httpextension_build_info\\{version="${VERSION}",node="${process.versions.node}"\\} 1$`, 'm'),
    );
  });

  test('GET / lists the routes and their processors; /health/live states the version', async () => {
    const index = await get(server.at('/'));
    assert.equal(index.status, 200);
    assert.deepEqual(JSON.parse(index.text), {
      name: 'httpextension',
      version: VERSION,
      routes: [
        { path: '/score', processor: 'colorIntensity' },
        { path: '/motion', processor: 'motion' },
      ],
      health: { live: '/health/live', ready: '/health/ready' },
      metrics: '/metrics',
      console: '/console/',
    });
    assert.match(VERSION, /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
    const live = await get(server.at('/health/live'));
    assert.deepEqual([live.status, JSON.parse(live.text)], [200, { status: 'live', version: VERSION }]);
  });
});

describe('metrics placement', () => {
  test('on its own port, and behind auth when asked', async () => {
    const server = await startTestServer(
      { workers: 1, metrics: { enabled: true, port: 0, auth: true } },
      { env: { HX_AUTH: 'bearer', HX_AUTH_TOKEN: 'metrics-token' } },
    );
    try {
      assertError(await post(server.at('/metrics'), '', {}, 'GET'), 401, 'HX_ERR_AUTH_REQUIRED');
      const ok = await get(server.at('/metrics'), { authorization: 'Bearer metrics-token' });
      assert.equal(ok.status, 200);
    } finally {
      await server.close();
    }
    const separate = await startTestServer({ workers: 1, metrics: { enabled: true, port: 0, auth: false } });
    try {
      assert.equal((await get(separate.at('/metrics'))).status, 200);
    } finally {
      await separate.close();
    }
  });
});

describe('logs', () => {
  for (const execution of ['workers', 'inline']) {
    test(`a processor's exception reaches the log with its request id, never the client (${execution})`, async () => {
      const server = await startCli(['--route', `/behave=${behave}`, '--execution', execution]);
      try {
        const id = `throws-${execution}`;
        const answer = await post(`${server.url}/behave?do=throw`, jpeg, { 'x-ms-client-request-id': id });
        assertError(answer, 500, 'HX_ERR_PROCESSOR_FAILED');
        assert.doesNotMatch(answer.text, /secret internal detail/);
        await until('the detail logged', () => server.output().includes('"msg":"processor error"'));
        const line = server
          .output()
          .split('\n')
          .find((l) => l.includes('"msg":"processor error"'));
        const logged = JSON.parse(line!) as { reqId: string; code: string; detail: string };
        assert.equal(logged.reqId, id);
        assert.equal(logged.code, 'HX_ERR_PROCESSOR_FAILED');
        assert.match(logged.detail, /secret internal detail \/etc\/passwd/);
      } finally {
        await server.stop();
      }
    });
  }

  test('a server without the libjpeg-turbo binding says so once at start (npm hides the install script saying it)', async () => {
    const server = await startCli(['--log-level', 'info', ...SCORE_ONLY], { HTTPEXTENSION_NATIVE_JPEG: '0' });
    try {
      const lines = server
        .output()
        .split('\n')
        .filter((l) => l.includes('libjpeg-turbo binding'));
      assert.equal(lines.length, 1, server.output());
      assert.match(lines[0]!, /JPEGs are decoded by sharp: .*npm rebuild httpextension/);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  test('readiness 503s while the processors load are logged at info, not as errors', async () => {
    const neverReady = fileURLToPath(new URL('./doubles/never-ready.js', import.meta.url));
    const server = await startCli(['--route', `/wait=${neverReady}`, '--log-level', 'info'], {}, { waitReady: false });
    try {
      assertError(await get(`${server.url}/health/ready`), 503, 'HX_ERR_CAPACITY_NOT_READY');
      await until('the probe logged', () => server.output().includes('"route":"/health/ready"'));
      const line = server
        .output()
        .split('\n')
        .find((l) => l.includes('"route":"/health/ready"'))!;
      const entry = JSON.parse(line) as { level: number; status: number; code: string };
      assert.deepEqual([entry.level, entry.status, entry.code], [30, 503, 'HX_ERR_CAPACITY_NOT_READY']);
    } finally {
      await server.stop('SIGKILL');
    }
  });

  test('one JSON line per request with the request id, route, status, bytes, stage timings and the error code', async () => {
    const server = await startCli(['--workers', '1', '--log-level', 'info', ...SCORE_ONLY]);
    try {
      const id = 'c0ffee00-1111-2222-3333-444455556666';
      assert.equal((await post(`${server.url}/score?cam=2`, jpeg, { 'x-ms-client-request-id': id })).status, 200);
      assert.equal((await post(`${server.url}/nowhere`, jpeg, { 'x-ms-client-request-id': 'missing-1' })).status, 404);
      for (let i = 0; i < 100 && !server.output().includes('"reqId":"missing-1"'); i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const lines = server
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as Record<string, unknown>);
      const ok = lines.filter((line) => line.reqId === id);
      assert.equal(ok.length, 1);
      assert.equal(ok[0]!.msg, 'request');
      assert.equal(ok[0]!.route, '/score');
      assert.equal(ok[0]!.status, 200);
      assert.equal(ok[0]!.bytes, jpeg.length);
      assert.equal(ok[0]!.processor, 'colorIntensity');
      assert.deepEqual(Object.keys(ok[0]!.stages as object), ['receive', 'queue', 'decode', 'process', 'encode']);
      const missing = lines.find((line) => line.reqId === 'missing-1')!;
      assert.equal(missing.status, 404);
      assert.equal(missing.code, 'HX_ERR_HTTP_NOT_FOUND');
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});

describe('graceful shutdown', () => {
  test('SIGTERM: not ready, new requests 503 + Retry-After, every accepted request answered, exit 0', async () => {
    const server = await startCli(['--workers', '2', '--route', `/behave=${behave}`, '--shutdown-grace-ms', '8000']);
    const hold = releaseFile();
    const accepted = Array.from({ length: 6 }, () => post(`${server.url}/behave?do=hold&until=${hold.path}`, jpeg));
    // Two running on the two workers, four queued: all six admitted before the signal.
    await until('six frames admitted', async () => (await gauge(server.url, 'httpextension_queue_depth')) === 4);
    const exited = server.stop('SIGTERM');
    // The drain closes idle keep-alive connections: a request on one the client had pooled may fail once.
    await until(
      'draining',
      async () => (await get(`${server.url}/health/ready`).catch(() => undefined))?.status === 503,
    );
    const ready = await get(`${server.url}/health/ready`);
    assert.equal((ready.json as { code: string }).code, 'HX_ERR_CAPACITY_DRAINING');
    const late = await post(`${server.url}/behave`, jpeg);
    assertError(late, 503, 'HX_ERR_CAPACITY_DRAINING');
    assert.equal(late.headers.connection, 'close');
    hold.release();
    const answers = await Promise.all(accepted);
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200, 200, 200, 200, 200],
    );
    assert.equal(await exited, 0);
  });

  // A hang guard, not a timing assertion: a leaked in-flight count would make SIGTERM wait the whole grace (10 min).
  test('a malformed pipelined request (surplus bytes after the body) leaves nothing in flight: SIGTERM exits at once', {
    timeout: 120_000,
  }, async () => {
    const server = await startCli(['--route', '/score=colorIntensity', '--shutdown-grace-ms', '600000']);
    const socket = connect(server.port, '127.0.0.1');
    let received = '';
    socket.on('data', (d) => {
      received += d;
    });
    socket.write('POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcdSURPLUS NOT HTTP\r\n\r\n');
    await once(socket, 'close');
    assert.match(received, /^HTTP\/1\.1 400 /);
    assert.match(received, /HX_ERR_MEDIA_UNDECODABLE|HX_ERR_HTTP_BAD_REQUEST/);
    assert.equal(await server.stop('SIGTERM'), 0);
  });
});

/** The value of a labelled counter on `base`/metrics (0 while it has no sample). */
async function counter(base: string, name: string, labels: string): Promise<number> {
  const text = (await get(`${base}/metrics`)).text;
  const match = new RegExp(`^${name}\\{${labels}\\} (\\S+)$`, 'm').exec(text);
  return match === null ? 0 : Number(match[1]);
}

/** A raw connection that has sent `chunks`; `closed` resolves when the server closes it. */
async function rawClient(port: number, chunks: string[]): Promise<{ socket: Socket; closed: Promise<unknown> }> {
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => {});
  const closed = once(socket, 'close');
  await once(socket, 'connect');
  for (const chunk of chunks) socket.write(chunk);
  return { socket, closed };
}

// Hang guards, not timing assertions: with a 10-minute grace, a connection or frame that held the drain would make
// these tests time out.
describe('drain', { timeout: 120_000 }, () => {
  test('SIGTERM closes idle, half-open and mid-body connections at once and exits 0', async () => {
    const server = await startCli([...SCORE_ONLY, '--shutdown-grace-ms', '600000']);
    const bare = await rawClient(server.port, []);
    const midBody = await rawClient(server.port, [
      'POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n',
      'abcdefghij',
    ]);
    const keepAlive = await rawClient(server.port, ['GET /health/live HTTP/1.1\r\nHost: x\r\n\r\n']);
    await once(keepAlive.socket, 'data');
    assert.equal(await server.stop('SIGTERM'), 0);
    await Promise.all([bare.closed, midBody.closed, keepAlive.closed]);
  });

  test('clients that went away (mid-body, while their frame ran) do not hold the drain; each is logged and counted', async () => {
    const server = await startCli([
      '--workers',
      '1',
      '--route',
      `/behave=${behave}`,
      '--execution',
      'workers',
      '--shutdown-grace-ms',
      '600000',
    ]);
    const gone = (stage: string) => counter(server.url, 'httpextension_client_disconnects_total', `stage="${stage}"`);
    const midBody = await rawClient(server.port, [
      'POST /behave HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\nabc',
    ]);
    midBody.socket.destroy();
    await until('the mid-body client counted', async () => (await gone('receive')) === 1);
    // Never released: only its client's going away lets the drain end.
    const hold = releaseFile();
    const running = await rawClient(server.port, [
      `POST /behave?do=hold&until=${hold.path} HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\n` +
        `Content-Length: ${jpeg.length}\r\n\r\n`,
    ]);
    running.socket.write(jpeg);
    await until('the held frame running', async () => (await gauge(server.url, 'httpextension_workers_busy')) === 1);
    running.socket.destroy();
    await until('the running client counted', async () => (await gone('process')) === 1);
    assert.equal(await server.stop('SIGTERM'), 0);
    const lines = server
      .output()
      .split('\n')
      .filter((l) => l.includes('"msg":"client gone"'))
      .map((l) => JSON.parse(l) as { stage: string; code: string; route: string });
    assert.deepEqual(
      lines.map((l) => [l.stage, l.code, l.route]),
      [
        ['receive', 'HX_ERR_CLIENT_GONE', '/behave'],
        ['process', 'HX_ERR_CLIENT_GONE', '/behave'],
      ],
    );
  });

  test('a second signal forces the exit while a frame still runs', async () => {
    const server = await startCli(['--workers', '1', '--route', `/behave=${behave}`, '--execution', 'workers']);
    const hold = releaseFile();
    const held = post(`${server.url}/behave?do=hold&until=${hold.path}`, jpeg).catch(() => undefined);
    await until('the held frame running', async () => (await gauge(server.url, 'httpextension_workers_busy')) === 1);
    server.child.kill('SIGTERM');
    // A fresh connection each time: the drain closes idle keep-alive ones.
    const ready = () =>
      rawExchange(server.port, ['GET /health/ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n']);
    await until('draining', async () => /^HTTP\/1\.1 503 /.test(await ready()));
    assert.equal(await server.stop('SIGTERM'), 1);
    await held;
  });
});

describe('overload', () => {
  test('a full queue refuses a frame from its head, before its body is sent: 503 + Retry-After, connection closed', async () => {
    const server = await startCli([
      '--workers',
      '1',
      '--execution',
      'workers',
      '--route',
      `/behave=${behave}`,
      '--max-queued-requests',
      '1',
    ]);
    try {
      const hold = releaseFile();
      const running = post(`${server.url}/behave?do=hold&until=${hold.path}`, jpeg);
      await until('running', async () => (await gauge(server.url, 'httpextension_workers_busy')) === 1);
      const queued = post(`${server.url}/behave`, jpeg);
      await until('queued', async () => (await gauge(server.url, 'httpextension_queue_depth')) === 1);
      // Only the head: an answer can only come from it.
      const answer = await rawExchange(server.port, [
        'POST /behave HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 30000000\r\n\r\n',
      ]);
      assert.match(answer, /^HTTP\/1\.1 503 /);
      assert.match(answer, /"code":"HX_ERR_CAPACITY_QUEUE_FULL"/);
      assert.match(answer, /retry-after: [1-9]/i);
      assert.match(answer, /connection: close/i);
      hold.release();
      assert.equal((await running).status, 200);
      assert.equal((await queued).status, 200);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });
});

describe('hostile clients', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      workers: 1,
      headersTimeoutMs: 500,
      bodyTimeoutMs: 800,
      maxConnections: 4,
      maxHeaderBytes: 4096,
    });
  });
  after(() => server.close());

  test('a client that sends its headers too slowly gets 408 and the connection is closed', async () => {
    const answer = await rawExchange(server.port, ['POST /score HTTP/1.1\r\nHost: x\r\n'], 5000);
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /"code":"HX_ERR_HTTP_BODY_TIMEOUT"/);
  });

  test('a body shorter than its Content-Length times out with 408', async () => {
    const answer = await rawExchange(
      server.port,
      ['POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 1000\r\n\r\n', Buffer.alloc(10)],
      5000,
    );
    assert.match(answer, /^HTTP\/1\.1 408 /);
  });

  test('a body longer than its Content-Length: the surplus is a malformed request, answered 400 and closed', async () => {
    const answer = await rawExchange(
      server.port,
      [
        'POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 4\r\n\r\n',
        'ABCDEFGHIJKL\r\n\r\n',
      ],
      5000,
    );
    // Node parses the surplus before the first answer is ready, so the connection ends with one 400 for it.
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assert.match(answer, /"code":"HX_ERR_HTTP_BAD_REQUEST"/);
    assert.match(answer, /Connection: close/i);
    assert.equal((await post(server.at('/score'), jpeg)).status, 200);
  });

  test('oversized headers get 431', async () => {
    const answer = await rawExchange(server.port, [
      `GET /health/live HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(8000)}\r\n\r\n`,
    ]);
    assert.match(answer, /^HTTP\/1\.1 431 /);
    assert.match(answer, /"code":"HX_ERR_HTTP_HEADERS_TOO_LARGE"/);
  });

  test('over maxConnections a newcomer takes the slot of the oldest idle connection, which is closed', async () => {
    const net = await import('node:net');
    const open = await Promise.all(
      Array.from(
        { length: 4 },
        () =>
          new Promise<import('node:net').Socket>((resolve) => {
            const socket = net.connect(server.port, '127.0.0.1', () => resolve(socket));
          }),
      ),
    );
    const oldestClosed = once(open[0]!, 'close');
    const served = await rawExchange(server.port, [
      'GET /health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    ]);
    assert.match(served, /^HTTP\/1\.1 200 /);
    await oldestClosed;
    for (const socket of open) socket.destroy();
  });
});
