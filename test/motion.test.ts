import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { affinityIndex } from '../src/inference/scheduler.js';
import type { Inference, Rectangle } from '../src/schema/inference.js';
import { post } from './helpers/http.js';
import { doubleUrl, startTestServer, type TestServer } from './helpers/server.js';

const W = 320;
const H = 240;

/** A grey frame with a black 40x40 square whose top-left corner is at (x, y). */
function frameWithSquare(x: number, y: number): Promise<Buffer> {
  const square = { create: { width: 40, height: 40, channels: 3 as const, background: '#000000' } };
  return sharp({ create: { width: W, height: H, channels: 3, background: '#808080' } })
    .composite([{ input: square, left: x, top: y }])
    .png()
    .toBuffer();
}

function squareBox(x: number, y: number): Rectangle {
  return { l: x / W, t: y / H, w: 40 / W, h: 40 / H };
}

function boxes(json: unknown): Rectangle[] {
  return (json as { inferences: Inference[] }).inferences.map((i) => {
    assert.equal(i.type, 'motion');
    return (i as Extract<Inference, { type: 'motion' }>).motion.box!;
  });
}

/** Every expected square is one reported box, edge by edge within 2% (the thumbnail grid and the dilation). */
function assertBoxes(actual: Rectangle[], expected: Rectangle[]): void {
  assert.equal(actual.length, expected.length, JSON.stringify(actual));
  for (const e of expected) {
    const match = actual.find(
      (a) =>
        Math.abs(a.l - e.l) <= 0.02 &&
        Math.abs(a.t - e.t) <= 0.02 &&
        Math.abs(a.l + a.w - (e.l + e.w)) <= 0.02 &&
        Math.abs(a.t + a.h - (e.t + e.h)) <= 0.02,
    );
    assert.ok(match, `no box near ${JSON.stringify(e)} in ${JSON.stringify(actual)}`);
  }
}

describe('motion (frame differencing per stream)', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer({
      workers: 2,
      routes: [
        { path: '/motion', processor: 'motion' },
        { path: '/count', processor: doubleUrl('stream-counter') },
        { path: '/count2', processor: doubleUrl('stream-counter') },
      ],
    });
  });
  after(() => server.close());

  it('reports where the square left and arrived, 204 when nothing moved, for interleaved streams', async () => {
    const a = await frameWithSquare(40, 40);
    const b = await frameWithSquare(200, 120);
    const first = [squareBox(40, 40), squareBox(200, 120)];
    const cam1 = async () => {
      assert.equal((await post(server.at('/motion?stream=cam1'), a)).status, 204, 'first frame sets the reference');
      const moved = await post(server.at('/motion?stream=cam1'), b);
      assert.equal(moved.status, 200, moved.text);
      assertBoxes(boxes(moved.json), first);
      assert.equal((await post(server.at('/motion?stream=cam1'), b)).status, 204, 'still');
      const back = await post(server.at('/motion?stream=cam1'), a);
      assertBoxes(boxes(back.json), first);
    };
    const cam2 = async () => {
      const headers = { 'x-stream-id': 'cam2' };
      assert.equal((await post(server.at('/motion'), b, headers)).status, 204);
      assert.equal((await post(server.at('/motion'), b, headers)).status, 204);
      const moved = await post(server.at('/motion'), a, headers);
      assert.equal(moved.status, 200, moved.text);
      assertBoxes(boxes(moved.json), first);
    };
    await Promise.all([cam1(), cam2()]);
  });

  it('a frame of another size restarts the stream', async () => {
    const small = await sharp({ create: { width: 160, height: 120, channels: 3, background: '#808080' } })
      .png()
      .toBuffer();
    assert.equal((await post(server.at('/motion?stream=resize'), await frameWithSquare(0, 0))).status, 204);
    assert.equal((await post(server.at('/motion?stream=resize'), small)).status, 204);
  });

  it('two routes of one stateful processor keep separate state, even in the same worker', async () => {
    const body = await frameWithSquare(0, 0);
    // A stream whose tasks on both routes are pinned to the same worker, so that a shared instance would show.
    const stream = ['a', 'b', 'c', 'd', 'e'].find(
      (s) => affinityIndex(`/count\n${s}`, 2) === affinityIndex(`/count2\n${s}`, 2),
    );
    assert.ok(stream);
    const counts = [];
    for (const path of ['/count', '/count2', '/count', '/count2']) {
      const answer = await post(server.at(`${path}?stream=${stream}`), body);
      const inference = (answer.json as { inferences: Inference[] }).inferences[0] as Extract<
        Inference,
        { type: 'classification' }
      >;
      counts.push(inference.classification.tag.value);
    }
    assert.deepEqual(counts, ['1', '1', '2', '2']);
  });

  it('sends every frame of one stream to the same worker, in order, under concurrency', async () => {
    const body = await frameWithSquare(0, 0);
    const streams = ['s1', 's2', 's3', 's4'];
    const answers = await Promise.all(
      streams.flatMap((stream) => Array.from({ length: 5 }, () => post(server.at(`/count?stream=${stream}`), body))),
    );
    const seen = new Map<string, { workers: Set<string>; counts: string[] }>();
    for (const answer of answers) {
      assert.equal(answer.status, 200, answer.text);
      const inference = (answer.json as { inferences: Inference[] }).inferences[0]!;
      const stream = inference.extensions!.stream!;
      const entry = seen.get(stream) ?? { workers: new Set(), counts: [] };
      entry.workers.add(inference.extensions!.workerId!);
      entry.counts.push((inference as Extract<Inference, { type: 'classification' }>).classification.tag.value);
      seen.set(stream, entry);
    }
    assert.deepEqual([...seen.keys()].sort(), streams);
    for (const [stream, { workers, counts }] of seen) {
      assert.equal(workers.size, 1, `${stream} ran on workers ${[...workers]}`);
      assert.deepEqual(counts.sort(), ['1', '2', '3', '4', '5'], `${stream} counts ${counts}`);
    }
  });
});
