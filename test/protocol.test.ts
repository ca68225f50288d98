import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, test } from 'node:test';
import { assertError, fixture, get, post } from './helpers/http.js';
import {
  assertQueueFullContract,
  doubleUrl,
  startBackPressureServer,
  startTestServer,
  type TestServer,
} from './helpers/server.js';

const jpeg = fixture('frames/street100_416.jpg');

describe('protocol: routes, methods, ids, keep-alive', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      routes: [
        { path: '/score', processor: 'colorIntensity', options: {} },
        { path: '/behave', processor: doubleUrl('behave'), options: {} },
      ],
    });
  });
  after(() => server.close());

  test('POST /score with any query answers 200 and the exact colorIntensity JSON', async () => {
    const answer = await post(server.at('/score?camera=7&x=%20y&flag'), jpeg, { 'content-type': 'image/jpeg' });
    assert.equal(answer.status, 200);
    assert.match(String(answer.headers['content-type']), /^application\/json/);
    const body = answer.json as { inferences: Array<{ classification: { attributes: Array<{ value: string }> } }> };
    // Bars excluded (the default): the picture inside the pad-mode bars is the 768x576 frame's, mean 122.581.
    const mean = Number(body.inferences[0]?.classification.attributes[0]?.value);
    assert.ok(Math.abs(mean - 122.581) < 1, `mean ${mean}`);
    assert.deepEqual(answer.json, {
      inferences: [
        {
          type: 'classification',
          subtype: 'colorIntensity',
          classification: {
            tag: { value: 'dark', confidence: 1 },
            attributes: [
              { name: 'meanLuma', value: mean.toFixed(3) },
              { name: 'region', value: '0,52,416,312' },
            ],
          },
        },
      ],
    });
  });

  test('x-ms-client-request-id is echoed back; one is generated when absent', async () => {
    const id = '6f1c6c1e-3a1b-4b0e-9a57-0b8a1e7c2d11';
    const answer = await post(server.at('/score'), jpeg, {
      'content-type': 'image/jpeg',
      'x-ms-client-request-id': id,
    });
    assert.equal(answer.headers['x-ms-client-request-id'], id);
    const generated = await post(server.at('/score'), jpeg, { 'content-type': 'image/jpeg' });
    assert.match(String(generated.headers['x-ms-client-request-id']), /^[0-9a-f-]{36}$/);
    const errored = await post(server.at('/nope'), jpeg, { 'x-ms-client-request-id': id });
    assert.equal((errored.json as { requestId: string }).requestId, id);
  });

  test('unknown path is 404 HX_ERR_HTTP_NOT_FOUND', async () => {
    assertError(await post(server.at('/scor'), jpeg), 404, 'HX_ERR_HTTP_NOT_FOUND');
    assertError(await post(server.at('/'), jpeg), 404, 'HX_ERR_HTTP_NOT_FOUND');
  });

  test('wrong method is 405 with Allow: POST', async () => {
    for (const method of ['GET', 'PUT', 'DELETE', 'PATCH']) {
      const answer = await post(server.at('/score'), method === 'GET' ? '' : 'x', {}, method);
      assertError(answer, 405, 'HX_ERR_HTTP_METHOD_NOT_ALLOWED');
      assert.equal(answer.headers.allow, 'POST');
    }
  });

  test('a processor answering nothing gives 204 with an empty body', async () => {
    const answer = await post(server.at('/behave?do=empty'), jpeg);
    assert.equal(answer.status, 204);
    assert.equal(answer.text, '');
  });

  test('HTTP/1.1 keep-alive: consecutive requests reuse one connection', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const reused: boolean[] = [];
    for (let i = 0; i < 3; i++) {
      await new Promise<void>((resolve, reject) => {
        const req = http.request(server.at('/score'), {
          method: 'POST',
          agent,
          headers: { 'content-type': 'image/jpeg' },
        });
        req.on('response', (res) => {
          assert.equal(res.statusCode, 200);
          assert.equal(res.headers.connection, 'keep-alive');
          res.resume();
          res.on('end', () => resolve());
        });
        req.on('error', reject);
        reused.push(false);
        req.on('socket', () => {
          reused[i] = req.reusedSocket;
        });
        req.end(jpeg);
      });
    }
    agent.destroy();
    assert.deepEqual(reused, [false, true, true]);
  });
});

describe('processor and worker failures', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      workers: 2,
      routes: [{ path: '/behave', processor: doubleUrl('behave'), options: {} }],
    });
  });
  after(() => server.close());

  test('a processor that throws gives 500 HX_ERR_PROCESSOR_FAILED without internals, and the server keeps serving', async () => {
    const answer = await post(server.at('/behave?do=throw'), jpeg);
    assertError(answer, 500, 'HX_ERR_PROCESSOR_FAILED');
    assert.doesNotMatch(answer.text, /secret|passwd|Error:/);
    assert.equal((await post(server.at('/behave'), jpeg)).status, 200);
  });

  test('output off the schema gives 500 HX_ERR_PROCESSOR_INVALID_OUTPUT', async () => {
    assertError(await post(server.at('/behave?do=invalid'), jpeg), 500, 'HX_ERR_PROCESSOR_INVALID_OUTPUT');
  });

  // crash: the worker exits under its frame. crash-async: an uncaught error its own frame raised fails that frame (it is
  // attributed to it), and the worker is replaced after answering it.
  for (const [how, code] of [
    ['crash', 'HX_ERR_WORKER_DIED'],
    ['crash-async', 'HX_ERR_PROCESSOR_FAILED'],
  ] as const) {
    test(`a worker that faults (${how}) answers its request 500 ${code}, is replaced, and others go on`, async () => {
      const [dying, ...others] = await Promise.all([
        post(server.at(`/behave?do=${how}`), jpeg),
        post(server.at('/behave?do=slow&ms=50'), jpeg),
        post(server.at('/behave?do=slow&ms=50'), jpeg),
      ]);
      assertError(dying!, 500, code);
      for (const other of others) assert.equal(other.status, 200);
      await waitReady(server);
      const results = await Promise.all(Array.from({ length: 6 }, () => post(server.at('/behave'), jpeg)));
      assert.deepEqual(
        results.map((r) => r.status),
        [200, 200, 200, 200, 200, 200],
      );
    });
  }
});

describe('back-pressure and deadlines', () => {
  let server: TestServer;
  before(async () => {
    server = await startBackPressureServer({ workers: 1 });
  });
  after(() => server.close());

  test('a full queue answers 503 HX_ERR_CAPACITY_QUEUE_FULL with Retry-After; the accepted requests complete', () =>
    assertQueueFullContract(server, jpeg));

  test('a processor stuck past requestTimeoutMs gives 503 HX_ERR_CAPACITY_TIMEOUT; still stuck later, its worker is recycled', async () => {
    // Spins for ten minutes on the only worker: a later frame can only be answered by a replacement worker.
    const stuck = await post(server.at('/behave?do=spin&ms=600000'), jpeg);
    assertError(stuck, 503, 'HX_ERR_CAPACITY_TIMEOUT');
    for (let attempt = 0; ; attempt++) {
      const answer = await post(server.at('/behave'), jpeg);
      if (answer.status === 200) break;
      // Late answers until the worker is replaced, then not-ready while its replacement loads.
      assert.equal(answer.status, 503);
      assert.match(String((answer.json as { code?: string }).code), /^HX_ERR_CAPACITY_(TIMEOUT|NOT_READY)$/);
      assert.ok(attempt < 100, 'the stuck worker was never replaced');
      await waitReady(server);
    }
  });
});

describe('readiness', () => {
  test('before every worker is up: ready is 503, live is 200, inference is 503 HX_ERR_CAPACITY_NOT_READY', async () => {
    const server = await startTestServer(
      { workers: 1, routes: [{ path: '/score', processor: doubleUrl('never-ready'), options: {} }] },
      { waitReady: false },
    );
    try {
      assert.equal((await get(server.at('/health/live'))).status, 200);
      const ready = await get(server.at('/health/ready'));
      assert.equal(ready.status, 503);
      assert.equal((ready.json as { code: string }).code, 'HX_ERR_CAPACITY_NOT_READY');
      const answer = await post(server.at('/score'), jpeg);
      assertError(answer, 503, 'HX_ERR_CAPACITY_NOT_READY');
    } finally {
      await server.close();
    }
  });

  test('once every worker is up, ready is 200', async () => {
    const server = await startTestServer({ workers: 2 });
    try {
      const ready = await get(server.at('/health/ready'));
      assert.equal(ready.status, 200);
      assert.deepEqual(ready.json, { status: 'ready' });
    } finally {
      await server.close();
    }
  });
});

async function waitReady(server: TestServer): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if ((await get(server.at('/health/ready'))).status === 200) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('server did not become ready again');
}
