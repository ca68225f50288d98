import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import { type ClientHttp2Session, connect as http2Connect } from 'node:http2';
import { connect } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { status } from '@grpc/grpc-js';
import { Agent, request } from 'undici';
import type { StreamMessage } from '../src/protocol/grpc/session.js';
import { fromProtoInference, PROTO_PACKAGE } from '../src/schema/grpc-inference.js';
import { validateResponse } from '../src/schema/validate.js';
import { descriptor, openStream, type TestStream } from './grpc-client.js';
import { makePki, type TestPki } from './helpers/certs.js';
import { fixture, get, until } from './helpers/http.js';
import { connectionsClosed, holdIdle } from './helpers/idle-sockets.js';
import { startTestServer, type TestServer } from './helpers/server.js';

const jpeg = fixture('frames/messi_416.jpg');
const IDLE = 2000;
const JPG = { encoding: 'JPG' } as const;

/** The descriptor is acked and a JPEG sample is answered with a valid classification. */
async function assertAnswers(stream: TestStream, sequenceNumber: number): Promise<void> {
  if (sequenceNumber === 2) {
    stream.send(descriptor('', JPG));
    assert.equal((await stream.next()).ackSequenceNumber, 1);
  }
  const sample: StreamMessage = {
    sequenceNumber,
    mediaSample: { timestamp: sequenceNumber, contentBytes: { bytes: jpeg } },
  };
  stream.send(sample);
  const answer = await stream.next();
  assert.equal(answer.ackSequenceNumber, sequenceNumber);
  const inferences = (answer.mediaSample?.inferences ?? []).map(fromProtoInference);
  assert.equal(inferences[0]?.type, 'classification');
  assert.deepEqual(validateResponse({ inferences }), []);
}

async function closedCount(server: TestServer, reason: string, ca?: Buffer): Promise<number> {
  const dispatcher = new Agent({ connections: 1, ...(ca === undefined ? {} : { connect: { ca } }) });
  try {
    const response = await request(server.at('/metrics'), { dispatcher });
    assert.equal(response.statusCode, 200);
    return connectionsClosed(await response.body.text(), 'grpc', reason);
  } finally {
    await dispatcher.close();
  }
}

/** Long enough that no idle connection times out while the 2,000 connect: every one beyond the slots is an eviction. */
const SLOW_TIMEOUT = { headersTimeoutMs: 30_000 };

/**
 * 2,000 idle connections on the gRPC port, more than `slots` can hold: a real stream is still answered, each
 * connection beyond the slots (the stream's own included) evicted the oldest idle one, and none was refused.
 */
async function assertIdleCannotDeny(
  server: TestServer,
  slots: number,
  ca: Buffer | undefined,
  signal: AbortSignal,
): Promise<void> {
  const idle = await holdIdle(server.grpcPort!, IDLE, signal);
  try {
    const stream = openStream(server.grpcPort!, undefined, ca);
    await assertAnswers(stream, 2);
    stream.end();
    assert.equal((await stream.ended).code, status.OK);
    stream.close();
    assert.equal(await closedCount(server, 'evicted', ca), IDLE + 1 - slots);
    assert.equal(
      (await closedCount(server, 'refused-full', ca)) + (await closedCount(server, 'refused-address', ca)),
      0,
    );
  } finally {
    idle.destroy();
  }
}

describe('gRPC connection slots', () => {
  let pki: TestPki;
  before(() => {
    pki = makePki();
  });
  after(() => rmSync(pki.dir, { recursive: true, force: true }));

  test('plain: 2,000 idle connections (over maxConnections) cannot lock out a stream', {
    timeout: 60_000,
  }, async (t) => {
    // The per-address cap raised above the idle count, so that the global slots are the ones that fill.
    const server = await startTestServer({ grpc: { port: 0 }, ...SLOW_TIMEOUT, maxConnectionsPerAddress: 4096 });
    try {
      await assertIdleCannotDeny(server, 1024, undefined, t.signal);
    } finally {
      await server.close();
    }
  });

  test('TLS: 2,000 connections that never send a ClientHello (over the per-address cap) cannot lock out a stream', {
    timeout: 60_000,
  }, async (t) => {
    const server = await startTestServer({
      grpc: { port: 0 },
      ...SLOW_TIMEOUT,
      tls: { certFile: pki.serverCert, keyFile: pki.serverKey },
    });
    try {
      await assertIdleCannotDeny(server, 256, readFileSync(pki.caCert), t.signal);
    } finally {
      await server.close();
    }
  });

  // A close that never comes fails by the timeout instead of holding the run.
  test('a connection with an open stream keeps its slot: a newcomer is refused, and takes it once the stream ended', {
    timeout: 30_000,
  }, async () => {
    const server = await startTestServer({ grpc: { port: 0 }, maxConnections: 1 });
    try {
      const first = openStream(server.grpcPort!);
      await assertAnswers(first, 2);
      const newcomer = connect(server.grpcPort!, '127.0.0.1');
      newcomer.on('error', () => {});
      newcomer.resume();
      await once(newcomer, 'close');
      assert.equal(await closedCount(server, 'refused-full'), 1);
      // The refusal cost the open stream nothing.
      await assertAnswers(first, 3);
      first.end();
      assert.equal((await first.ended).code, status.OK);
      // Its connection is idle now (the client keeps it for its next call): a newcomer takes its slot.
      const newcomer2 = connect(server.grpcPort!, '127.0.0.1');
      newcomer2.on('error', () => {});
      newcomer2.resume();
      const newcomer2Closed = once(newcomer2, 'close');
      await until('the idle connection evicted', async () => (await closedCount(server, 'evicted')) === 1);
      // The client connects again for its next stream, and takes the slot of the newcomer that sent nothing.
      const second = openStream(server.grpcPort!);
      await assertAnswers(second, 2);
      await newcomer2Closed;
      assert.equal(await closedCount(server, 'evicted'), 2);
      second.end();
      assert.equal((await second.ended).code, status.OK);
      first.close();
      second.close();
    } finally {
      await server.close();
    }
  });

  // A close that never comes fails by the timeout instead of holding the run.
  test('a connection that opens no stream within headersTimeoutMs is closed: a bare connect, a TLS handshake and nothing more', {
    timeout: 30_000,
  }, async () => {
    const server = await startTestServer({
      grpc: { port: 0 },
      headersTimeoutMs: 200,
      tls: { certFile: pki.serverCert, keyFile: pki.serverKey },
    });
    const ca = readFileSync(pki.caCert);
    try {
      const bare = connect(server.grpcPort!, '127.0.0.1');
      bare.on('error', () => {});
      bare.resume();
      await once(bare, 'close');
      const secure = tlsConnect({
        host: '127.0.0.1',
        servername: 'localhost',
        port: server.grpcPort!,
        ALPNProtocols: ['h2'],
        ca,
      });
      secure.on('error', () => {});
      secure.resume();
      await once(secure, 'secureConnect');
      await once(secure, 'close');
      assert.equal(await closedCount(server, 'no-request', ca), 2);
      // A client that does open its stream in time is served.
      const stream = openStream(server.grpcPort!, undefined, ca);
      await assertAnswers(stream, 2);
      stream.end();
      assert.equal((await stream.ended).code, status.OK);
      stream.close();
    } finally {
      await server.close();
    }
  });

  // A close that never comes fails by the timeout instead of holding the run.
  test('streams that never send their descriptor cannot hold every slot: a newcomer takes the oldest one', {
    timeout: 30_000,
  }, async () => {
    const server = await startTestServer({ grpc: { port: 0 }, maxConnections: 2 });
    const silent: ClientHttp2Session[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        // A connection of its own each (grpc-js clients would share one), with a stream open and nothing sent on it.
        const session = http2Connect(`http://127.0.0.1:${server.grpcPort}`);
        session.on('error', () => {});
        const stream = session.request({
          ':method': 'POST',
          ':path': `/${PROTO_PACKAGE}.MediaGraphExtension/ProcessMediaStream`,
          'content-type': 'application/grpc',
          te: 'trailers',
        });
        stream.on('error', () => {});
        silent.push(session);
        await until(`${i + 1} silent streams open`, async () => (await streamsOpen(server)) === i + 1);
      }
      const oldestClosed = once(silent[0]!, 'close');
      const stream = openStream(server.grpcPort!);
      await assertAnswers(stream, 2);
      await oldestClosed;
      assert.equal(await closedCount(server, 'evicted'), 1);
      assert.equal(await closedCount(server, 'refused-full'), 0);
      stream.end();
      assert.equal((await stream.ended).code, status.OK);
      stream.close();
    } finally {
      for (const session of silent) session.destroy();
      await server.close();
    }
  });
});

async function streamsOpen(server: TestServer): Promise<number> {
  const match = /^httpextension_grpc_streams (\d+)$/m.exec((await get(server.at('/metrics'))).text);
  return Number(match?.[1]);
}
