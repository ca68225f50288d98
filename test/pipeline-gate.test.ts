import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MediaItem } from '../src/pipeline/graph.js';
import type { GateSpec } from '../src/pipeline/node-specs.js';
import { SignalGateNode } from '../src/pipeline/nodes/signal-gate.js';

/**
 * SignalGateProcessor timing on media time, with synthetic packets (10 fps, a keyframe every second) and events
 * injected at known points of the packet clock: the worked timeline of the vendor's signal-gate article (cases A to
 * F in node-behaviour.md), with its sample values (window 1 s, offset -5 s, minimum 20 s, maximum 40 s).
 */
const SAMPLE: GateSpec = {
  activationEvaluationWindowMs: 1000,
  activationSignalOffsetMs: -5000,
  minimumActivationTimeMs: 20_000,
  maximumActivationTimeMs: 40_000,
};

const S = 90_000;

interface Clip {
  from: number;
  to: number;
  firstKey: boolean;
}

/** Plays `seconds` of packets; `events[t]` are events (their media times) that arrive when the packet clock is at t. */
async function play(
  spec: GateSpec,
  seconds: number,
  events: Record<number, number[]>,
): Promise<{ clips: Clip[]; gate: SignalGateNode }> {
  const clips: Clip[] = [];
  let open: { packets: number[]; firstKey: boolean } | undefined;
  const gate = new SignalGateNode(
    'gate',
    spec,
    async (item: MediaItem) => {
      if (item.kind === 'segment' && item.phase === 'start') open = { packets: [], firstKey: false };
      else if (item.kind === 'segment') {
        const p = open!.packets;
        clips.push({ from: p[0]! / S, to: (p[p.length - 1]! + S / 10) / S, firstKey: open!.firstKey });
        open = undefined;
      } else if (item.kind === 'packet') {
        if (open!.packets.length === 0) open!.firstKey = item.packet.key;
        open!.packets.push(item.packet.pts90k);
      }
    },
    () => {},
    () => 0,
  );
  const header = Buffer.alloc(0);
  for (let i = 0; i < seconds * 10; i++) {
    const pts = (i * S) / 10;
    await gate.receive({
      kind: 'packet',
      packet: { pts90k: pts, dts90k: pts, key: i % 10 === 0, data: Buffer.alloc(100) },
      header,
    });
    for (const t of events[i / 10] ?? []) {
      await gate.receive({ kind: 'event', event: { node: 'md', pts90k: t * S, body: {} } });
    }
  }
  await gate.end();
  return { clips, gate };
}

describe('SignalGateProcessor', () => {
  test('A: one event gives [E + offset, E + minimum]', async () => {
    const { clips } = await play(SAMPLE, 200, { 100: [100] });
    assert.deepEqual(clips, [{ from: 95, to: 120, firstKey: true }]);
  });

  test('B: a second event while open extends to its own minimum', async () => {
    const { clips } = await play(SAMPLE, 200, { 100: [100], 105: [105] });
    assert.deepEqual(clips, [{ from: 95, to: 125, firstKey: true }]);
  });

  test('C: an event storm is capped at the maximum after the first event', async () => {
    const storm: Record<number, number[]> = {};
    for (let t = 100; t <= 180; t += 5) storm[t] = [t];
    const { clips } = await play(SAMPLE, 300, storm);
    // Capped at 140. The event at 140 opens the next activation, which cannot reach back before the close (that
    // media is already in the first clip) and is capped in turn at 180; the event at 180 opens a third.
    assert.deepEqual(clips, [
      { from: 95, to: 140, firstKey: true },
      { from: 140, to: 180, firstKey: true },
      { from: 180, to: 200, firstKey: true },
    ]);
  });

  test('D: an event after the close opens a second activation', async () => {
    const { clips } = await play(SAMPLE, 200, { 100: [100], 125: [125] });
    assert.deepEqual(clips, [
      { from: 95, to: 120, firstKey: true },
      { from: 120, to: 145, firstKey: true },
    ]);
  });

  test('E: an earlier event arriving within the evaluation window moves the start back', async () => {
    const { clips } = await play(SAMPLE, 200, { 100: [100], 100.8: [99] });
    assert.deepEqual(clips, [{ from: 94, to: 120, firstKey: true }]);
  });

  test('F: an earlier event arriving after the window is late: the start stays', async () => {
    const { clips } = await play(SAMPLE, 200, { 100: [100], 101.5: [99] });
    assert.deepEqual(clips, [{ from: 95, to: 120, firstKey: true }]);
  });

  test('a positive offset starts after the event, on the keyframe at or before the start', async () => {
    const { clips } = await play({ ...SAMPLE, activationSignalOffsetMs: 2500 }, 200, { 100: [100] });
    assert.deepEqual(clips, [{ from: 102, to: 120, firstKey: true }]);
  });

  test('a window of 0 opens at once; the stream ending closes an open gate', async () => {
    const { clips } = await play({ ...SAMPLE, activationEvaluationWindowMs: 0 }, 110, { 100: [100] });
    assert.deepEqual(clips, [{ from: 95, to: 110, firstKey: true }]);
  });

  test('the pre-roll buffer stays bounded while the gate is closed', async () => {
    const { gate } = await play(SAMPLE, 600, {});
    // |offset| + window + the 5 s lag margin, plus at most one group of pictures.
    assert.ok(gate.bufferedPackets <= (5 + 1 + 5 + 1) * 10, `${gate.bufferedPackets} packets held`);
    assert.ok(gate.bufferedPackets >= (5 + 1 + 5) * 10, `${gate.bufferedPackets} packets held`);
  });
});
