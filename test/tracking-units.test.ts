import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MediaItem } from '../src/pipeline/graph.js';
import { ObjectTrackingNode } from '../src/pipeline/nodes/object-tracking.js';
import { greedy, hungarian } from '../src/pipeline/tracking/assignment.js';
import { ByteTracker, type Detection } from '../src/pipeline/tracking/byte-tracker.js';
import { LineCounter } from '../src/pipeline/tracking/line-counter.js';

describe('assignment', () => {
  // Greedy takes the cheapest pair (0,0) = 0.1 and is left with (1,1) = 0.9; the optimum is 0.2 + 0.3.
  const cost = [
    [0.1, 0.2],
    [0.3, 0.9],
  ];
  test('hungarian finds the cheapest total, greedy the cheapest first pair', () => {
    assert.deepEqual(hungarian(cost, 2, 1).matches, [
      [0, 1],
      [1, 0],
    ]);
    assert.deepEqual(greedy(cost, 2, 1).matches, [
      [0, 0],
      [1, 1],
    ]);
  });

  test('pairs above the limit are never matched; rectangular matrices', () => {
    const result = hungarian([[0.9, 0.2, Number.POSITIVE_INFINITY]], 3, 0.5);
    assert.deepEqual(result, { matches: [[0, 1]], unmatchedRows: [], unmatchedColumns: [0, 2] });
    assert.deepEqual(hungarian([[0.9], [0.95]], 1, 0.5), { matches: [], unmatchedRows: [0, 1], unmatchedColumns: [0] });
  });
});

describe('line counter', () => {
  const down = new LineCounter([0.5, 0.1], [0.5, 0.9]);
  const walk = (counter: LineCounter, id: string, xs: number[], y = 0.5) =>
    xs.map((x, i) => counter.observe(id, [x, y], i * 9000)?.direction);

  test('a top-to-bottom line: left to right is counterclockwise, right to left clockwise', () => {
    assert.deepEqual(walk(down, 'a', [0.3, 0.45, 0.55, 0.7]), [undefined, undefined, 'counterclockwise', undefined]);
    assert.deepEqual(walk(down, 'b', [0.7, 0.3]), [undefined, 'clockwise']);
    assert.equal(down.clockwiseTotal, 1);
    assert.equal(down.counterclockwiseTotal, 1);
  });

  test('a left-to-right line: downwards is clockwise', () => {
    const across = new LineCounter([0.1, 0.5], [0.9, 0.5]);
    assert.equal(across.observe('a', [0.5, 0.3], 0), undefined);
    assert.equal(across.observe('a', [0.5, 0.7], 1)?.direction, 'clockwise');
  });

  test('jitter on the line counts once; walking round its end counts nothing', () => {
    const counter = new LineCounter([0.5, 0.1], [0.5, 0.9]);
    const jitter = walk(counter, 'a', [0.4, 0.498, 0.503, 0.497, 0.504, 0.52, 0.496, 0.53]);
    assert.deepEqual(
      jitter.filter((d) => d !== undefined),
      ['counterclockwise'],
    );
    assert.deepEqual(walk(counter, 'b', [0.3, 0.7], 0.95), [undefined, undefined]);
    assert.equal(counter.counterclockwiseTotal + counter.clockwiseTotal, 1);
  });
});

describe('ByteTracker', () => {
  const det = (l: number, t: number, score = 0.9, label = 'car'): Detection => ({
    box: { l, t, w: 0.1, h: 0.1 },
    score,
    label,
  });

  test('an object that leaves gets no recycled id; a new one gets the next id', () => {
    const tracker = new ByteTracker();
    tracker.advance(0);
    tracker.update([det(0.1, 0.1)]);
    assert.deepEqual(
      tracker.active().map((t) => t.id),
      ['1'],
    );
    // Answers with nobody, for longer than the lost buffer (2 s at medium).
    for (let f = 1; f <= 30; f++) {
      tracker.advance(f * 9000);
      if (f % 5 === 0) tracker.update([]);
    }
    assert.equal(tracker.size, 0);
    for (const f of [35, 40]) {
      tracker.advance(f * 9000);
      tracker.update([det(0.1, 0.1)]);
    }
    assert.deepEqual(
      tracker.active().map((t) => t.id),
      ['2'],
    );
  });

  test('between answers boxes move on with the estimated velocity', () => {
    const tracker = new ByteTracker();
    for (let i = 0; i < 4; i++) {
      tracker.advance(i * 45_000);
      tracker.update([det(0.1 + 0.05 * i, 0.4)]);
    }
    tracker.advance(3 * 45_000 + 22_500); // half-way to the next answer
    const [track] = tracker.active();
    assert.ok(track !== undefined && Math.abs(track.box.l - 0.275) < 0.01, JSON.stringify(track));
  });

  test('labels are not mixed: a person does not continue a car', () => {
    const tracker = new ByteTracker();
    tracker.advance(0);
    tracker.update([det(0.1, 0.1)]);
    tracker.advance(45_000);
    tracker.update([det(0.1, 0.1, 0.9, 'person')]);
    assert.deepEqual(tracker.active(), []);
  });

  test('a low-confidence detection keeps a track (BYTE) at medium, not at low', () => {
    for (const [accuracy, kept] of [
      ['medium', true],
      ['low', false],
    ] as const) {
      const tracker = new ByteTracker(accuracy);
      tracker.advance(0);
      tracker.update([det(0.1, 0.1)]);
      tracker.advance(45_000);
      tracker.update([det(0.1, 0.1, 0.3)]);
      assert.equal(tracker.active().length === 1, kept, accuracy);
    }
  });
});

describe('ObjectTrackingNode', () => {
  const frame = (pts90k: number, analysedBy?: string[]): MediaItem => ({
    kind: 'frame',
    frame: { width: 2, height: 2, rgb: Buffer.alloc(12), pts90k },
    annotations: [],
    ...(analysedBy ? { analysedBy } : {}),
  });
  const answer = (pts90k: number, l: number): MediaItem => ({
    kind: 'event',
    event: {
      node: 'ext',
      pts90k,
      body: {
        inferences: [
          { type: 'entity', entity: { tag: { value: 'car', confidence: 0.9 }, box: { l, t: 0.4, w: 0.1, h: 0.1 } } },
          { type: 'classification', classification: { tag: { value: 'day', confidence: 1 } } },
        ],
      },
    },
  });
  function node(): { node: ObjectTrackingNode; out: MediaItem[] } {
    const out: MediaItem[] = [];
    return {
      node: new ObjectTrackingNode('tracker', { accuracy: 'medium' }, ['ext'], async (item) => void out.push(item)),
      out,
    };
  }
  const ids = (out: MediaItem[]) =>
    out.flatMap((i) =>
      i.kind === 'event' ? (i.event.body.inferences as { entity: { id: string } }[]).map((x) => x.entity.id) : [],
    );

  test('live order (the answer after its frame) is applied to the next frame; every frame goes on', async () => {
    const { node: tracker, out } = node();
    await tracker.receive(frame(0), 'ext');
    await tracker.receive(answer(0, 0.1), 'ext');
    await tracker.receive(frame(9000), 'ext');
    await tracker.receive(frame(18_000), 'ext');
    assert.deepEqual(
      out.map((i) => i.kind),
      ['frame', 'event', 'frame', 'event', 'frame'],
    );
    assert.deepEqual(ids(out), ['1', '1']);
    const annotated = out[2]!;
    assert.ok(annotated.kind === 'frame');
    assert.equal((annotated.annotations[0] as { sequenceId: string }).sequenceId.length, 32);
  });

  test('an empty answer (a frame analysed with no event) loses the tracks; events of other nodes are ignored', async () => {
    const { node: tracker, out } = node();
    await tracker.receive(answer(0, 0.1), 'ext');
    await tracker.receive(frame(0, ['ext']), 'ext');
    await tracker.receive(answer(45_000, 0.5), 'other');
    await tracker.receive(frame(45_000, ['ext']), 'ext');
    assert.deepEqual(ids(out), ['1']);
  });
});
