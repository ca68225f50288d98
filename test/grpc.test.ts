import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import { status } from '@grpc/grpc-js';
import { RAW_FORMAT_NAMES, rawFrameBytes } from '../src/contract/pixel-format.js';
import type { StreamMessage } from '../src/protocol/grpc/session.js';
import { fromProtoInference, type ProtoInference } from '../src/schema/grpc-inference.js';
import type { Inference } from '../src/schema/inference.js';
import { validateResponse } from '../src/schema/validate.js';
import { descriptor, openStream } from './grpc-client.js';
import { makePki } from './helpers/certs.js';
import { fixture, get, post, releaseFile, until } from './helpers/http.js';
import { generatePythonContract, PYTHON, pythonPeer } from './helpers/python-grpc.js';
import { doubleUrl, startTestServer, type TestServer } from './helpers/server.js';

const jpeg = fixture('frames/street100_416.jpg');
const JPG = { encoding: 'JPG' } as const;
const WIDTH = 64;
const HEIGHT = 48;
const OFFSET = 4096;

/** A BGR24 frame: a horizontal ramp in blue, constant green and red, so its mean luma is known but not trivial. */
function bgr24(): Buffer {
  const frame = Buffer.alloc(WIDTH * HEIGHT * 3);
  for (let y = 0; y < HEIGHT; y++) {
    for (let x = 0; x < WIDTH; x++) frame.set([x * 4, 120, 200], (y * WIDTH + x) * 3);
  }
  return frame;
}
const RAW = {
  encoding: 'RAW',
  pixelFormat: 'BGR24',
  dimensions: { width: WIDTH, height: HEIGHT },
  strideBytes: WIDTH * 3,
} as const;

function sample(sequenceNumber: number, timestamp: number, content: StreamMessage['mediaSample']): StreamMessage {
  return { sequenceNumber, mediaSample: { timestamp, ...content } };
}

function inferencesOf(message: StreamMessage): Inference[] {
  return (message.mediaSample?.inferences ?? []).map(fromProtoInference);
}

/** The HTTP answer of the same frame, as the gRPC answer must carry it. */
async function httpInferences(server: TestServer, path: string, body: Uint8Array, type: string): Promise<Inference[]> {
  const answer = await post(server.at(path), body, { 'content-type': type });
  assert.equal(answer.status, 200);
  return (JSON.parse(answer.text) as { inferences: Inference[] }).inferences;
}

describe('gRPC extension front end', () => {
  let server: TestServer;
  let shmDir: string;
  let shmName: string;
  const hold = releaseFile();
  before(async () => {
    server = await startTestServer({
      grpc: { port: 0 },
      maxQueuedRequests: 1,
      routes: [
        { path: '/score', processor: 'colorIntensity', options: {} },
        { path: '/behave', processor: doubleUrl('behave'), options: {}, execution: 'inline' },
        { path: '/private', processor: 'colorIntensity', options: {}, auth: ['basic'] },
      ],
      auth: { users: [{ username: 'camera', password: 's3cret' }] },
    });
    shmDir = '/dev/shm';
    shmName = `hx-grpc-test-${process.pid}`;
    const file = Buffer.alloc(OFFSET + bgr24().length + 100, 0xee);
    bgr24().copy(file, OFFSET);
    writeFileSync(join(shmDir, shmName), file);
  });
  after(async () => {
    hold.release();
    rmSync(join(shmDir, shmName), { force: true });
    await server.close();
  });

  test('a JPEG embedded: descriptor acked, the sample acked with its timestamp and the HTTP inferences', async () => {
    const stream = openStream(server.grpcPort!);
    stream.send(descriptor('', JPG));
    const ours = await stream.next();
    assert.equal(ours.sequenceNumber, 1);
    assert.equal(ours.ackSequenceNumber, 1);
    assert.equal(ours.payload, 'mediaStreamDescriptor');
    stream.send(sample(2, 90000, { contentBytes: { bytes: jpeg } }));
    stream.send(sample(3, 93000, { contentBytes: { bytes: jpeg } }));
    const first = await stream.next();
    const second = await stream.next();
    assert.deepEqual(
      [first, second].map((m) => [m.sequenceNumber, m.ackSequenceNumber, m.mediaSample?.timestamp]),
      [
        [2, 2, 90000],
        [3, 3, 93000],
      ],
    );
    const expected = await httpInferences(server, '/score', jpeg, 'image/jpeg');
    assert.equal(expected[0]?.type, 'classification');
    assert.deepEqual(inferencesOf(first), expected);
    assert.deepEqual(validateResponse({ inferences: inferencesOf(second) }), []);
    assert.equal(await openStreams(server), 1);
    stream.end();
    assert.equal((await stream.ended).code, status.OK);
    stream.close();
  });

  test('BGR24 in shared memory: the same inferences as the raw frame POSTed over HTTP', async () => {
    const stream = openStream(server.grpcPort!);
    const length = WIDTH * HEIGHT * 3;
    stream.send(descriptor('/score', RAW, { handleName: shmName, lengthBytes: OFFSET + length }));
    await stream.next();
    stream.send(sample(2, 7, { contentReference: { addressOffset: OFFSET, lengthBytes: length } }));
    const answer = await stream.next();
    assert.equal(answer.ackSequenceNumber, 2);
    const expected = await httpInferences(
      server,
      `/score?width=${WIDTH}&height=${HEIGHT}&format=bgr24`,
      bgr24(),
      'image/x-raw',
    );
    assert.deepEqual(inferencesOf(answer), expected);
    stream.end();
    assert.equal((await stream.ended).code, status.OK);
    stream.close();
  });

  test('every pixel format of the contract is read as HTTP reads the same raw frame', async () => {
    for (const format of RAW_FORMAT_NAMES) {
      const bytes = rawFrameBytes(format, WIDTH, HEIGHT);
      const frame = Buffer.alloc(bytes);
      for (let i = 0; i < bytes; i++) frame[i] = (i * 7) % 251;
      const stream = openStream(server.grpcPort!);
      stream.send(descriptor('', { ...RAW, pixelFormat: format.toUpperCase(), strideBytes: 0 }));
      await stream.next();
      stream.send(sample(2, 1, { contentBytes: { bytes: frame } }));
      const answer = inferencesOf(await stream.next());
      const http = `/score?width=${WIDTH}&height=${HEIGHT}&format=${format}`;
      assert.deepEqual(answer, await httpInferences(server, http, frame, 'image/x-raw'), format);
      stream.end();
      assert.equal((await stream.ended).code, status.OK);
      stream.close();
    }
  });

  test('a Python peer generated from the protos streams JPEG embedded and BGR24 in shared memory', async () => {
    const contract = generatePythonContract();
    const gen = contract.dir;
    try {
      const jpegFile = join(gen, 'frame.jpg');
      writeFileSync(jpegFile, jpeg);
      const script = pythonPeer('grpc_client.py');
      const out = await new Promise<string>((resolve, reject) => {
        // Asynchronous: the server runs on this process's event loop.
        import('node:child_process').then(({ execFile }) =>
          execFile(
            PYTHON,
            [script, gen, String(server.grpcPort), jpegFile, shmName, String(WIDTH), String(HEIGHT), String(OFFSET)],
            (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)),
          ),
        );
      });
      type PyMessage = { sequenceNumber?: string; ackSequenceNumber?: string; mediaSample?: PyMessage['x'] } & {
        x?: { timestamp?: string; inferences?: ProtoInference[] };
        mediaStreamDescriptor?: object;
      };
      const answers = JSON.parse(out) as { embedded: PyMessage[]; shared: PyMessage[] };
      const shape = (ms: PyMessage[]) =>
        ms.map((m) => [m.sequenceNumber, m.ackSequenceNumber, m.mediaSample?.timestamp ?? 'descriptor']);
      assert.deepEqual(shape(answers.embedded), [
        ['1', '1', 'descriptor'],
        ['2', '2', '1000'],
      ]);
      assert.deepEqual(shape(answers.shared), [
        ['1', '1', 'descriptor'],
        ['2', '2', '2000'],
      ]);
      const fromPython = (m: PyMessage | undefined) => (m?.mediaSample?.inferences ?? []).map(fromProtoInference);
      assert.deepEqual(fromPython(answers.embedded[1]), await httpInferences(server, '/score', jpeg, 'image/jpeg'));
      assert.deepEqual(
        fromPython(answers.shared[1]),
        await httpInferences(server, `/score?width=${WIDTH}&height=${HEIGHT}&format=bgr24`, bgr24(), 'image/x-raw'),
      );
    } finally {
      contract.remove();
    }
  });

  test('routing: a path, and the JSON form carrying the query (no result answers no inferences)', async () => {
    const stream = openStream(server.grpcPort!);
    stream.send(descriptor('{"route":"/behave","do":"empty"}', JPG));
    await stream.next();
    stream.send(sample(2, 5, { contentBytes: { bytes: jpeg } }));
    const empty = await stream.next();
    assert.equal(empty.ackSequenceNumber, 2);
    assert.deepEqual(empty.mediaSample?.inferences ?? [], []);
    stream.end();
    await stream.ended;
    stream.close();

    const byPath = openStream(server.grpcPort!);
    byPath.send(descriptor('/behave', JPG));
    await byPath.next();
    byPath.send(sample(2, 5, { contentBytes: { bytes: jpeg } }));
    assert.deepEqual(inferencesOf(await byPath.next()), [
      { type: 'classification', subtype: 'behave', classification: { tag: { value: 'ok', confidence: 1 } } },
    ]);
    byPath.end();
    await byPath.ended;
    byPath.close();
  });

  test('a frame the processor fails on is answered with no inferences, and the stream goes on', async () => {
    const before = await rejected('HX_ERR_PROCESSOR_FAILED');
    const stream = openStream(server.grpcPort!);
    stream.send(descriptor('{"route":"/behave","do":"throw"}', JPG));
    await stream.next();
    stream.send(sample(2, 8, { contentBytes: { bytes: jpeg } }));
    stream.send(sample(3, 9, { contentBytes: { bytes: jpeg } }));
    const answers = [await stream.next(), await stream.next()];
    assert.deepEqual(
      answers.map((m) => [m.ackSequenceNumber, m.mediaSample?.timestamp, m.mediaSample?.inferences ?? []]),
      [
        [2, 8, []],
        [3, 9, []],
      ],
    );
    assert.equal(await rejected('HX_ERR_PROCESSOR_FAILED'), before + 2);
    stream.end();
    assert.equal((await stream.ended).code, status.OK);
    stream.close();
  });

  const failures: Array<[string, StreamMessage[], status, RegExp]> = [
    ['a sample first', [sample(1, 0, { contentBytes: { bytes: jpeg } })], status.FAILED_PRECONDITION, /first message/],
    ['an unknown route', [descriptor('/nowhere', JPG)], status.NOT_FOUND, /\/nowhere: no such route/],
    ['a configuration that is not JSON', [descriptor('{route', JPG)], status.INVALID_ARGUMENT, /GRPC_CONFIGURATION/],
    [
      'a missing shared memory file',
      [descriptor('', RAW, { handleName: 'hx-absent', lengthBytes: 10 })],
      status.INVALID_ARGUMENT,
      /Cannot open \/dev\/shm\/hx-absent \(ENOENT\)/,
    ],
    [
      'a handle that is a path',
      [descriptor('', RAW, { handleName: '../etc', lengthBytes: 10 })],
      status.INVALID_ARGUMENT,
      /not a file name/,
    ],
    ['no credentials on a private route', [descriptor('/private', JPG)], status.UNAUTHENTICATED, /x-ms-authentication/],
    [
      'a bad sequence number',
      [descriptor('', JPG), sample(5, 0, {})],
      status.FAILED_PRECONDITION,
      /sequence_number 5 should be 2/,
    ],
  ];
  for (const [what, messages, code, details] of failures) {
    test(`${what} ends the stream with its status; the server keeps serving`, async () => {
      const stream = openStream(server.grpcPort!);
      for (const message of messages) stream.send(message);
      const ended = await stream.ended;
      assert.equal(ended.code, code);
      assert.match(ended.details, details);
      stream.close();
    });
  }

  test('a filter the JSON form carries out of range ends the stream at the first sample', async () => {
    const stream = openStream(server.grpcPort!);
    stream.send(descriptor('{"confidence":2}', JPG));
    await stream.next();
    stream.send(sample(2, 0, { contentBytes: { bytes: jpeg } }));
    const ended = await stream.ended;
    assert.equal(ended.code, status.INVALID_ARGUMENT);
    assert.match(ended.details, /HX_ERR_HTTP_BAD_QUERY/);
    stream.close();
  });

  test('a shared memory offset outside the file and raw geometry that does not match end the stream', async () => {
    const outside = openStream(server.grpcPort!);
    outside.send(descriptor('', RAW, { handleName: shmName, lengthBytes: 10 }));
    await outside.next();
    outside.send(sample(2, 0, { contentReference: { addressOffset: OFFSET, lengthBytes: 1_000_000 } }));
    const ended = await outside.ended;
    assert.equal(ended.code, status.INVALID_ARGUMENT);
    assert.match(ended.details, new RegExp(`offset ${OFFSET} length 1000000 is outside /dev/shm/${shmName}`));
    outside.close();

    const wrong = openStream(server.grpcPort!);
    wrong.send(descriptor('', { ...RAW, dimensions: { width: WIDTH, height: HEIGHT + 1 } }));
    await wrong.next();
    wrong.send(sample(2, 0, { contentBytes: { bytes: bgr24() } }));
    const mismatch = await wrong.ended;
    assert.equal(mismatch.code, status.INVALID_ARGUMENT);
    assert.match(mismatch.details, /HX_ERR_MEDIA_RAW_SIZE/);
    wrong.close();
  });

  test('Basic credentials in x-ms-authentication open a private route', async () => {
    const good = openStream(server.grpcPort!, `Basic ${Buffer.from('camera:s3cret').toString('base64')}`);
    good.send(descriptor('/private', JPG));
    assert.equal((await good.next()).ackSequenceNumber, 1);
    good.end();
    assert.equal((await good.ended).code, status.OK);
    good.close();
    const bad = openStream(server.grpcPort!, `Basic ${Buffer.from('camera:wrong').toString('base64')}`);
    bad.send(descriptor('/private', JPG));
    const ended = await bad.ended;
    assert.equal(ended.code, status.UNAUTHENTICATED);
    assert.match(ended.details, /HX_ERR_AUTH_INVALID/);
    bad.close();
  });

  test('queue full: the sample is answered at once with no inferences, counted rejected, and the stream goes on', async () => {
    const stream = openStream(server.grpcPort!);
    const until_ = decodeURIComponent(hold.path);
    stream.send(descriptor(JSON.stringify({ route: '/behave', do: 'hold', until: until_ }), JPG));
    await stream.next();
    const rejectedBefore = await rejected();
    for (let n = 2; n <= 4; n++) stream.send(sample(n, n * 10, { contentBytes: { bytes: jpeg } }));
    // One frame runs, one waits in the queue of one: the third is refused and answered first.
    const refused = await stream.next();
    assert.equal(refused.ackSequenceNumber, 4);
    assert.equal(refused.mediaSample?.timestamp, 40);
    assert.deepEqual(refused.mediaSample?.inferences ?? [], []);
    await until('the refusal counted', async () => (await rejected()) === rejectedBefore + 1);
    hold.release();
    const rest = [await stream.next(), await stream.next()].map((m) => m.ackSequenceNumber).sort();
    assert.deepEqual(rest, [2, 3]);
    stream.end();
    assert.equal((await stream.ended).code, status.OK);
    stream.close();
  });

  async function rejected(reason = 'HX_ERR_CAPACITY_QUEUE_FULL'): Promise<number> {
    const text = (await get(server.at('/metrics'))).text;
    const match = new RegExp(`^httpextension_rejected_requests_total\\{reason="${reason}"\\} (\\d+)$`, 'm').exec(text);
    return match === null ? 0 : Number(match[1]);
  }
});

describe('gRPC over TLS', () => {
  test("the server's certificate serves gRPC too; a plaintext client is not answered", async () => {
    const pki = makePki();
    const server = await startTestServer({
      grpc: { port: 0 },
      tls: { certFile: pki.serverCert, keyFile: pki.serverKey },
    });
    try {
      const stream = openStream(server.grpcPort!, undefined, readFileSync(pki.caCert));
      stream.send(descriptor('', JPG));
      assert.equal((await stream.next()).ackSequenceNumber, 1);
      stream.send(sample(2, 3, { contentBytes: { bytes: jpeg } }));
      assert.equal(inferencesOf(await stream.next())[0]?.type, 'classification');
      stream.end();
      assert.equal((await stream.ended).code, status.OK);
      stream.close();
      const plain = openStream(server.grpcPort!);
      plain.send(descriptor('', JPG));
      assert.equal((await plain.ended).code, status.UNAVAILABLE);
      plain.close();
    } finally {
      await server.close();
      rmSync(pki.dir, { recursive: true, force: true });
    }
  });
});

describe('gRPC TLS reload', () => {
  test('SIGHUP (reloadTls) gives new gRPC connections the new certificate; the open stream goes on', async () => {
    const pki = makePki();
    const cert = join(pki.dir, 'live.pem');
    const key = join(pki.dir, 'live-key.pem');
    copyFileSync(pki.serverCert, cert);
    copyFileSync(pki.serverKey, key);
    const server = await startTestServer({ grpc: { port: 0 }, tls: { certFile: cert, keyFile: key } });
    try {
      const fingerprint = (file: string) => new X509Certificate(readFileSync(file)).fingerprint256;
      assert.equal(await peerFingerprint(server.grpcPort!), fingerprint(pki.serverCert));
      const open = openStream(server.grpcPort!, undefined, readFileSync(pki.caCert));
      open.send(descriptor('', JPG));
      await open.next();
      copyFileSync(pki.serverCert2, cert);
      copyFileSync(pki.serverKey2, key);
      server.reloadTls();
      assert.equal(await peerFingerprint(server.grpcPort!), fingerprint(pki.serverCert2));
      open.send(sample(2, 1, { contentBytes: { bytes: jpeg } }));
      assert.equal((await open.next()).ackSequenceNumber, 2);
      open.end();
      assert.equal((await open.ended).code, status.OK);
      open.close();
    } finally {
      await server.close();
      rmSync(pki.dir, { recursive: true, force: true });
    }
  });
});

async function openStreams(server: TestServer): Promise<number> {
  const text = (await get(server.at('/metrics'))).text;
  return Number(/^httpextension_grpc_streams (\d+)$/m.exec(text)?.[1]);
}

/** The certificate a new TLS connection to the gRPC port is shown (HTTP/2 by ALPN, as a gRPC client connects). */
function peerFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port, ALPNProtocols: ['h2'], rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.on('error', reject);
  });
}

describe('gRPC idle streams', () => {
  test('a stream that sends nothing for grpc.idleTimeoutMs is ended DEADLINE_EXCEEDED and no longer counted', async () => {
    const server = await startTestServer({ grpc: { port: 0, idleTimeoutMs: 200 } });
    try {
      const streams = async () =>
        /^httpextension_grpc_streams (\d+)$/m.exec((await get(server.at('/metrics'))).text)?.[1];
      const stream = openStream(server.grpcPort!);
      stream.send(descriptor('', JPG));
      await stream.next();
      assert.equal(await streams(), '1');
      const ended = await stream.ended;
      assert.equal(ended.code, status.DEADLINE_EXCEEDED);
      assert.match(ended.details, /HX_ERR_GRPC_IDLE: The stream sent nothing for 200 ms/);
      await until('the stream released', async () => (await openStreams(server)) === 0);
      stream.close();
    } finally {
      await server.close();
    }
  });
});

describe('gRPC shutdown', () => {
  test('SIGTERM (close) closes connections without a stream at once, answers the accepted samples, then ends the stream UNAVAILABLE', async () => {
    const server = await startTestServer({
      grpc: { port: 0 },
      routes: [{ path: '/behave', processor: doubleUrl('behave'), options: {}, execution: 'inline' }],
    });
    const hold = releaseFile();
    const stream = openStream(server.grpcPort!);
    stream.send(
      descriptor(JSON.stringify({ route: '/behave', do: 'hold', until: decodeURIComponent(hold.path) }), JPG),
    );
    await stream.next();
    stream.send(sample(2, 1, { contentBytes: { bytes: jpeg } }));
    await until('the frame running', async () =>
      (await get(server.at('/metrics'))).text.includes('httpextension_workers_busy 1'),
    );
    const idle = connect(server.grpcPort!, '127.0.0.1');
    idle.on('error', () => {});
    idle.resume();
    await once(idle, 'connect');
    const closed = server.close();
    // Before the held sample is released: the drain does not wait for the work in flight to close it.
    await once(idle, 'close');
    hold.release();
    const answer = await stream.next();
    assert.equal(answer.ackSequenceNumber, 2);
    assert.equal(inferencesOf(answer).length, 1);
    const ended = await stream.ended;
    assert.equal(ended.code, status.UNAVAILABLE);
    assert.match(ended.details, /HX_ERR_CAPACITY_DRAINING/);
    await closed;
    stream.close();
  });
});
