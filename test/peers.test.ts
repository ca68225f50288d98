import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { after, before, describe, test } from 'node:test';
import { HxError } from '../src/errors.js';
import type { InferOutcome, InferRequest } from '../src/inference/engine.js';
import { ownerOf, type PeerGroup, PeerMesh, peerGroupEnv, peerGroupFromEnv } from '../src/inference/peers.js';

/**
 * The hand-off between the processes of a group: two meshes in this process, on real unix sockets, one forwarding to
 * the other. The owner's side is a double that holds each frame until the test answers it.
 */

const OUTCOME: Omit<InferOutcome, 'image'> = {
  json: '{"inferences":[]}',
  inferenceCount: 0,
  labels: [['motion', 'none']],
  timings: { queueMs: 1, decodeMs: 2, processMs: 3, encodeMs: 0 },
  processor: 'motion',
};

interface Held {
  request: InferRequest;
  answer: (outcome: InferOutcome) => void;
  fail: (error: unknown) => void;
}

function frame(stream: string, body: Uint8Array, extra: Partial<InferRequest> = {}): InferRequest {
  return {
    route: '/motion',
    body,
    mediaType: 'image/jpeg',
    rawHints: [{ width: 4 }],
    query: { confidence: '0.5' },
    stream,
    origin: '127.0.0.1',
    output: 'json',
    requestId: `r-${stream}`,
    deadline: performance.now() + 10_000,
    ...extra,
  };
}

describe('peer mesh (stateful streams across the processes of a group)', () => {
  let dir: string;
  let group: (index: number) => PeerGroup;
  const held: Held[] = [];
  let waiting: ((h: Held) => void) | undefined;
  const nextHeld = (): Promise<Held> =>
    new Promise((resolve) => {
      const h = held.shift();
      if (h !== undefined) resolve(h);
      else waiting = resolve;
    });
  const local = (request: InferRequest) =>
    new Promise<InferOutcome>((answer, fail) => {
      const h = { request, answer, fail };
      if (waiting !== undefined) {
        const w = waiting;
        waiting = undefined;
        w(h);
      } else held.push(h);
    });
  let owner: PeerMesh;
  let forwarder: PeerMesh;

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'hx-peers-'));
    group = (index) => ({ dir, index, count: 2 });
    owner = new PeerMesh(group(1));
    forwarder = new PeerMesh(group(0));
  });
  after(async () => {
    await forwarder.close();
    await owner.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the group travels in the environment; every process agrees on each key owner', () => {
    assert.deepEqual(peerGroupFromEnv(peerGroupEnv(group(1))), group(1));
    assert.equal(peerGroupFromEnv({}), undefined);
    assert.throws(() => peerGroupFromEnv(peerGroupEnv({ dir, index: 2, count: 2 })), /malformed/);
    const owners = new Set<number>();
    for (let i = 0; i < 64; i++) {
      const o = ownerOf(`/motion\ncam-${i}`, 4);
      assert.ok(o >= 0 && o < 4);
      owners.add(o);
    }
    assert.equal(owners.size, 4, 'keys spread over every process');
    assert.equal(ownerOf('/motion\ncam-7', 4), ownerOf('/motion\ncam-7', 4));
  });

  test('an owner not listening yet answers 503 HX_ERR_CAPACITY_NOT_READY with Retry-After', async () => {
    await assert.rejects(forwarder.forward(1, frame('cam', new Uint8Array([1]))), (error: HxError) => {
      assert.equal(error.code, 'HX_ERR_CAPACITY_NOT_READY');
      assert.equal(error.headers['retry-after'], '1');
      return true;
    });
    assert.equal(forwarder.remoteOwner('x') === undefined, ownerOf('x', 2) === 0);
  });

  test('a frame reaches the owner whole and its outcome comes back, the annotated image too', async () => {
    await owner.listen(local);
    // Large enough to arrive in many socket chunks.
    const body = new Uint8Array(3 * 1024 * 1024).map((_, i) => i % 251);
    let started = false;
    const answered = forwarder.forward(1, frame('cam-a', body, { onStart: () => (started = true) }));
    const h = await nextHeld();
    assert.deepEqual(Buffer.from(h.request.body), Buffer.from(body));
    assert.equal(h.request.stream, 'cam-a');
    assert.deepEqual(h.request.rawHints, [{ width: 4 }]);
    assert.deepEqual(h.request.query, { confidence: '0.5' });
    assert.equal(h.request.origin, '127.0.0.1');
    assert.equal(h.request.requestId, 'r-cam-a');
    const left = h.request.deadline - performance.now();
    assert.ok(left > 0 && left <= 10_000, `the deadline travels as what is left of it (${left})`);
    h.request.onStart?.();
    const image = { mediaType: 'image/jpeg', bytes: new Uint8Array([0xff, 0xd8, 0xff, 0xd9]) };
    h.answer({ ...OUTCOME, image });
    const outcome = await answered;
    assert.ok(started, 'onStart reached the forwarder');
    assert.deepEqual(
      { ...outcome, image: { ...outcome.image, bytes: [...(outcome.image?.bytes ?? [])] } },
      {
        ...OUTCOME,
        image: { mediaType: 'image/jpeg', bytes: [0xff, 0xd8, 0xff, 0xd9] },
      },
    );
  });

  test("the owner's errors come back with their code, message and headers; frames interleave by id", async () => {
    const first = forwarder.forward(1, frame('cam-1', new Uint8Array([1])));
    const second = forwarder.forward(1, frame('cam-2', new Uint8Array([2])));
    const [h1, h2] = [await nextHeld(), await nextHeld()];
    assert.equal(h1.request.stream, 'cam-1', 'in the order they were sent');
    h2.fail(new HxError('HX_ERR_CAPACITY_QUEUE_FULL', undefined, { headers: { 'retry-after': '3' } }));
    h1.answer({ ...OUTCOME, json: undefined });
    await assert.rejects(second, (error: HxError) => {
      assert.equal(error.code, 'HX_ERR_CAPACITY_QUEUE_FULL');
      assert.equal(error.status, 503);
      assert.equal(error.headers['retry-after'], '3');
      return true;
    });
    assert.equal((await first).json, undefined);
    // Anything but an HxError is not passed on as it is.
    const third = forwarder.forward(1, frame('cam-3', new Uint8Array([3])));
    (await nextHeld()).fail(new Error('secret internals'));
    await assert.rejects(third, (error: HxError) => error.code === 'HX_ERR_SERVER_INTERNAL');
  });

  test("a cancelled frame is cancelled at the owner; the owner's going away fails what waits on it", async () => {
    const controller = new AbortController();
    const cancelled = forwarder.forward(1, frame('cam-c', new Uint8Array([4]), { signal: controller.signal }));
    const h = await nextHeld();
    const aborted = new Promise<void>((resolve) => h.request.signal?.addEventListener('abort', () => resolve()));
    controller.abort();
    await aborted;
    h.fail(new HxError('HX_ERR_CLIENT_GONE'));
    await assert.rejects(cancelled, (error: HxError) => error.code === 'HX_ERR_CLIENT_GONE');

    const lost = forwarder.forward(1, frame('cam-d', new Uint8Array([5])));
    const pending = await nextHeld();
    await owner.close();
    await assert.rejects(lost, (error: HxError) => {
      assert.equal(error.code, 'HX_ERR_CAPACITY_NOT_READY');
      assert.match(error.message, /restarting/);
      return true;
    });
    assert.ok(pending.request.signal?.aborted, 'the owner stops work nobody will read');
    // A replacement at the same index takes over the socket path.
    owner = new PeerMesh(group(1));
    await owner.listen(local);
    const again = forwarder.forward(1, frame('cam-d', new Uint8Array([6])));
    (await nextHeld()).answer({ ...OUTCOME });
    assert.equal((await again).processor, 'motion');
  });
});
