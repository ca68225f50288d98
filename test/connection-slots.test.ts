import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { before, describe, test } from 'node:test';
import { Agent, request } from 'undici';
import { VERSION } from '../src/version.js';
import { makePki, type TestPki } from './helpers/certs.js';
import { type CliServer, SCORE_ONLY, startCli } from './helpers/cli.js';
import { checkWellFormed, fixture } from './helpers/http.js';
import { connectionsClosed, holdIdle } from './helpers/idle-sockets.js';
import { startTestServer } from './helpers/server.js';

const jpeg = fixture('frames/messi_416.jpg');
const IDLE = 2000;

async function answer(url: string, dispatcher: Agent, path: string, body?: Buffer): Promise<number> {
  const response = await request(`${url}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    ...(body === undefined ? {} : { body, headers: { 'content-type': 'image/jpeg' } }),
    dispatcher,
  });
  const text = await response.body.text();
  if (body === undefined) assert.deepEqual(JSON.parse(text), { status: 'live', version: VERSION });
  else checkWellFormed({ status: response.statusCode, headers: response.headers, text, json: undefined });
  return response.statusCode;
}

/**
 * 2,000 idle connections against a port, more than `slots` can hold: health and a real frame are still answered, each
 * connection beyond the slots (the client's own included) evicted the oldest idle one, and none was refused. The
 * timeouts are long enough that none fires while the 2,000 connect (they are tested on their own below).
 */
async function assertIdleCannotDeny(
  server: CliServer,
  slots: number,
  dispatcher: Agent,
  signal: AbortSignal,
): Promise<void> {
  const idle = await holdIdle(server.port, IDLE, signal);
  try {
    assert.equal(await answer(server.url, dispatcher, '/health/live'), 200);
    assert.equal(await answer(server.url, dispatcher, '/score', jpeg), 200);
    const metrics = await (await request(`${server.url}/metrics`, { dispatcher })).body.text();
    assert.equal(connectionsClosed(metrics, 'http', 'evicted'), IDLE + 1 - slots);
    assert.equal(
      connectionsClosed(metrics, 'http', 'refused-full') + connectionsClosed(metrics, 'http', 'refused-address'),
      0,
    );
  } finally {
    idle.destroy();
    await dispatcher.close();
  }
}

const SLOW_TIMEOUTS = { HX_HEADERS_TIMEOUT_MS: '30000', HX_TLS_HANDSHAKE_TIMEOUT_MS: '30000' };

describe('connection slots', () => {
  let pki: TestPki;
  before(() => {
    pki = makePki();
  });

  test('plain HTTP: 2,000 idle connections (over maxConnections) cannot lock out health or frames', {
    timeout: 60_000,
  }, async (t) => {
    // The per-address cap raised above the idle count, so that the global slots are the ones that fill.
    const server = await startCli(['--workers', '1', ...SCORE_ONLY], {
      ...SLOW_TIMEOUTS,
      HX_MAX_CONNECTIONS_PER_ADDRESS: '4096',
    });
    try {
      await assertIdleCannotDeny(server, 1024, new Agent({ connections: 1 }), t.signal);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  test('TLS: 2,000 connections that never send a ClientHello (over the per-address cap) cannot lock out clients', {
    timeout: 60_000,
  }, async (t) => {
    const server = await startCli(
      ['--workers', '1', ...SCORE_ONLY, '--tls-cert', pki.serverCert, '--tls-key', pki.serverKey],
      SLOW_TIMEOUTS,
    );
    try {
      const dispatcher = new Agent({ connections: 1, connect: { rejectUnauthorized: false } });
      await assertIdleCannotDeny(server, 256, dispatcher, t.signal);
    } finally {
      assert.equal(await server.stop(), 0);
    }
  });

  // A close that never comes fails by the timeout instead of holding the run.
  test('a connection that sends no request is closed after headersTimeoutMs; one without a ClientHello after the TLS handshake timeout', {
    timeout: 30_000,
  }, async () => {
    const plain = await startTestServer({ headersTimeoutMs: 200 });
    const secure = await startTestServer({
      tls: { certFile: pki.serverCert, keyFile: pki.serverKey, handshakeTimeoutMs: 200 },
      // Past the test's timeout: only the handshake timeout can close this one in time.
      headersTimeoutMs: 600_000,
      bodyTimeoutMs: 600_000,
    });
    try {
      for (const server of [plain, secure]) {
        const socket = connect(server.port, '127.0.0.1');
        socket.on('error', () => {});
        socket.resume();
        await once(socket, 'close');
      }
      const metrics = await (await request(`${plain.url}/metrics`)).body.text();
      assert.equal(connectionsClosed(metrics, 'http', 'no-request'), 1);
    } finally {
      await plain.close();
      await secure.close();
    }
  });

  // A close that never comes fails by the timeout instead of holding the run.
  test('slow uploads cannot hold every slot either: a newcomer takes the slot of the oldest body still arriving', {
    timeout: 30_000,
  }, async () => {
    const server = await startTestServer({ maxConnections: 4 });
    const uploads: Socket[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const socket = connect(server.port, '127.0.0.1');
        socket.on('error', () => {});
        // Headers of a body that never completes: a request in progress, not accepted yet. The server's 100 Continue
        // says it has taken the request.
        socket.write(
          'POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\nExpect: 100-continue\r\n\r\n',
        );
        const [reply] = (await once(socket, 'data')) as [Buffer];
        assert.match(reply.toString('latin1'), /^HTTP\/1\.1 100 Continue/);
        socket.write(jpeg.subarray(0, 10));
        socket.resume();
        uploads.push(socket);
      }
      const oldestClosed = once(uploads[0]!, 'close');
      const dispatcher = new Agent({ connections: 1 });
      try {
        assert.equal(await answer(server.url, dispatcher, '/health/live'), 200);
        await oldestClosed;
        const metrics = await (await request(`${server.url}/metrics`, { dispatcher })).body.text();
        assert.ok(connectionsClosed(metrics, 'http', 'evicted') >= 1);
        assert.equal(connectionsClosed(metrics, 'http', 'refused-full'), 0);
      } finally {
        await dispatcher.close();
      }
    } finally {
      for (const socket of uploads) socket.destroy();
      await server.close();
    }
  });
});
